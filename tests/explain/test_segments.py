"""Segmenting display tokens the way LIT's Sequence Salience module does
(token_utils.ts and sequence_salience_module.ts in lit-nlp 1.3.1), on
hand-built tokens."""

import pytest

from lit_gemma.explain import segments


def _texts(tokens, granularity):
  return [segments.display_text(tokens[s:e])
          for s, e in segments.token_ranges(tokens, granularity)]


def test_a_word_split_over_tokens_is_one_word_with_its_punctuation():
  tokens = ["Water", "▁is", "▁hyd", "ro", "gen", "."]
  assert _texts(tokens, "word") == ["Water", " is", " hydrogen."]
  assert _texts(tokens, "token") == ["Water", " is", " hyd", "ro", "gen", "."]


def test_newlines_are_words_of_their_own_and_a_word_starts_after_them():
  tokens = ["Hi", "\n\n", "The", "▁end", "\n"]
  assert _texts(tokens, "word") == ["Hi", "\n\n", "The", " end", "\n"]
  # A token holding text then a newline stays one word: only spaces and
  # the first character after a newline start words.
  assert _texts(["Hi", "\n", "▁▁", "x"], "word") == ["Hi", "\n  x"]


def test_a_sentence_starts_at_the_space_after_a_full_stop_or_at_a_newline():
  tokens = ["It", "▁rains", ".", "▁The", "▁end", "!", "\n", "Next", "?"]
  assert _texts(tokens, "sentence") == [
      "It rains.", " The end!", "\n", "Next?"]
  # A full stop inside a word (no space after it) does not end a sentence.
  assert _texts(["v", "1", ".", "2", "▁is", "▁out"], "sentence") == [
      "v1.2 is out"]


def test_lines_and_paragraphs_split_at_newline_runs_kept_as_segments():
  tokens = ["a", "▁b", "\n", "c", "\n\n", "d", "\n\n\n", "e"]
  assert _texts(tokens, "line") == [
      "a b", "\n", "c", "\n\n", "d", "\n\n\n", "e"]
  assert _texts(tokens, "paragraph") == [
      "a b\nc", "\n\n", "d", "\n\n\n", "e"]
  # A newline inside a token breaks before that token (the UI starts a
  # segment at the first token reaching past a match).
  assert _texts(["Hello", ".\n", "World"], "line") == [
      "Hello", ".\n", "World"]


def test_one_segment_starts_per_token_as_in_the_ui():
  # "a\n\nb" holds two word starts ("\n\n" and "b"); the UI starts one
  # segment there and, one match behind, another at the next token.
  assert _texts(["a\n\nb", "c", "d"], "word") == ["a\n\nb", "cd"]


def test_whitespace_is_javascripts():
  # NEL (\x85) is whitespace to Python's regex but not to the browser's.
  assert _texts(["a", "\x85b"], "word") == ["a\x85b"]
  # A no-break space is whitespace to both; its second byte's empty display
  # token stays with it.
  assert _texts(["The", "\xa0", "", "x"], "word") == ["The", "\xa0x"]


CASES = [
    ["Water", "▁is", "▁made", "▁of", "▁hydrogen", "▁and", "▁oxygen", "."],
    ["Q", ":", "▁What", "▁is", "▁", "1", "2", "?", "\n", "A", ":", "▁", "1",
     "9", ".", "\n\n", "Q", ":", "▁Why", "?"],
    ["def", "▁f", "():", "\n", "▁▁▁▁", "return", "▁", "1", "\n"],
    ["\n", "\n\n", "x", ".", "▁", "▁", "y", "!", "!", "\n"],
    ["é", "", "▁", "\xa0", "", "."],
    [],
]


@pytest.mark.parametrize("tokens", CASES)
@pytest.mark.parametrize("granularity", segments.GRANULARITIES)
def test_segments_cover_every_token_once_in_order_and_spell_the_text(
    tokens, granularity):
  ranges = segments.token_ranges(tokens, granularity)
  assert all(start < end for start, end in ranges)
  covered = [i for start, end in ranges for i in range(start, end)]
  assert covered == list(range(len(tokens)))
  assert "".join(_texts(tokens, granularity)) == segments.display_text(tokens)


def test_scores_are_summed_signed_and_segments_say_where_they_are():
  tokens = ["The", "▁sum", "mit", ".", "▁It", "▁ended", "."]
  scores = [1.0, -2.0, 0.5, 0.25, 3.0, -1.0, 0.0]
  mask = [0, 0, 0, 0, 0, 1, 1]
  words = segments.segments(tokens, scores, "word", prompt_tokens=4,
                            target_mask=mask)
  assert [(w.text, w.start, w.end, w.score, w.part, w.is_explained)
          for w in words] == [
              ("The", 0, 1, 1.0, "prompt", False),
              (" summit.", 1, 4, -1.25, "prompt", False),
              (" It", 4, 5, 3.0, "target", False),
              (" ended.", 5, 7, -1.0, "target", True),
          ]
  sentences = segments.segments(tokens, scores, "sentence", 4, mask)
  assert [(s.text, s.score, s.part, s.is_explained) for s in sentences] == [
      ("The summit.", -0.25, "prompt", False),
      (" It ended.", 2.0, "target", True)]


def test_unknown_granularity_is_refused_naming_the_choices():
  with pytest.raises(ValueError) as error:
    segments.token_ranges(["a"], "phrase")
  message = str(error.value)
  assert "'phrase'" in message and "paragraph" in message
  assert "\n" not in message
