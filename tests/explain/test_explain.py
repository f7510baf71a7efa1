"""explain(): salience of one (prompt, target) on the real embedded Gemma 3
270M, equal to what the LIT salience model returns for the same mask."""

import numpy as np
import pytest

from backbone_reference import backbone_gradient
from backbone_reference import backbone_log_probs
from lit_gemma import explain
from lit_gemma.lit import model_groups

pytestmark = pytest.mark.real_model

PROMPT = "Water is made of"
TARGET = " hydrogen and oxygen."


@pytest.fixture(scope="module")
def gemma(embedded_gemma):
  return embedded_gemma


@pytest.fixture(scope="module")
def oxygen(gemma):
  return explain.explain(gemma, PROMPT, TARGET, span=" oxygen")


def test_scores_equal_the_backbones_own_gradient(gemma, embedded_lm, oxygen):
  assert oxygen.tokens == ["Water", "▁is", "▁made", "▁of", "▁hydrogen",
                           "▁and", "▁oxygen", "."]
  assert oxygen.prompt_tokens == 4
  assert oxygen.target_mask.tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
  assert set(oxygen.scores) == {"grad_l2", "grad_dot_input"}
  # Independent of the engine: the gradient through keras-hub's functional
  # backbone on token ids, for the same mask (BOS first, never a target).
  ids = gemma.encode(PROMPT + TARGET)
  assert len(set(ids)) == len(ids)  # one score per token, no sums
  mask = np.concatenate([[0.0], oxygen.target_mask])
  grads, rows = backbone_gradient(embedded_lm, ids, mask)
  np.testing.assert_allclose(oxygen.scores["grad_l2"],
                             np.linalg.norm(grads[1:], axis=-1),
                             rtol=2e-4, atol=1e-6)
  np.testing.assert_allclose(oxygen.scores["grad_dot_input"],
                             np.sum(grads[1:] * rows[1:], axis=-1),
                             rtol=2e-3, atol=1e-5)
  for scores in oxygen.scores.values():
    assert np.abs(scores[:6]).min() > 0  # every token before it counts


def test_scores_equal_the_lit_salience_model_for_the_same_mask(gemma, oxygen):
  gemma.engine.forget()  # the fresh path, as the UI's first click
  model = model_groups.SalienceModel(gemma, model_groups.GroupSettings())
  lit = list(model.predict([{"prompt": PROMPT, "target": TARGET,
                             "target_mask": oxygen.target_mask.tolist()}]))[0]
  assert lit["tokens"] == oxygen.tokens
  for method, scores in oxygen.scores.items():
    np.testing.assert_allclose(scores, lit[method], rtol=1e-6, atol=0)


def test_score_is_the_targets_log_likelihood_through_the_backbone(
    gemma, embedded_lm):
  ids = gemma.encode(PROMPT + TARGET)
  first = len(gemma.encode(PROMPT))
  got = gemma.score(PROMPT, TARGET)
  want = backbone_log_probs(embedded_lm, ids)[first - 1:]
  assert got.shape == (len(ids) - first,) == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  assert (got < 0).all()


def test_the_word_that_pairs_with_oxygen_is_the_most_salient(oxygen):
  words = oxygen.segments("word")
  assert [w.text for w in words] == [
      "Water", " is", " made", " of", " hydrogen", " and", " oxygen."]
  assert [w.is_explained for w in words] == [False] * 6 + [True]
  assert [w.part for w in words] == ["prompt"] * 4 + ["target"] * 3
  score = {w.text.strip(): w.score for w in words}
  others = [s for word, s in score.items() if word not in ("hydrogen",
                                                            "oxygen.")]
  # Measured: hydrogen 9.49, then of 3.79, Water 3.56, made 2.91, is 2.16.
  assert score["hydrogen"] > 2 * max(others)
  assert score["Water"] > score["is"]
  sentence, = oxygen.segments("sentence")
  assert sentence.text == PROMPT + TARGET and sentence.is_explained
  assert sentence.score == pytest.approx(sum(w.score for w in words),
                                         rel=1e-6)


def test_the_default_span_is_the_whole_target_and_ranges_count_its_tokens(
    gemma):
  gemma.engine.forget()
  whole = explain.explain(gemma, PROMPT, TARGET, methods=["grad_l2"])
  assert whole.target_mask.tolist() == [0] * 4 + [1] * 4
  assert list(whole.scores) == ["grad_l2"]
  gemma.engine.forget()
  first_two = explain.explain(gemma, PROMPT, TARGET, span=(0, 2))
  assert first_two.explained_text == " hydrogen and"
  # A character spread over two byte tokens is explained whole.
  nbsp = explain.explain(gemma, "Say", " a\xa0b", span="\xa0")
  assert nbsp.tokens[1:] == ["▁a", "\xa0", "", "b"]
  assert nbsp.target_mask.tolist() == [0, 0, 1, 1, 0]


@pytest.mark.parametrize("target, span, words", [
    (TARGET, " nitrogen", ["nitrogen", "not in the target"]),
    (TARGET, "", ["not in the target"]),
    (TARGET, (3, 9), ["(3, 9)", "4 tokens"]),
    (TARGET, (2, 2), ["(2, 2)"]),
    (TARGET, 3.5, ["3.5", "(start, end)"]),
    ("", None, ["target is empty"]),
])
def test_bad_input_is_a_one_line_error_naming_it(gemma, target, span, words):
  with pytest.raises(ValueError) as error:
    explain.explain(gemma, PROMPT, target, span=span)
  message = str(error.value)
  assert "\n" not in message
  for word in words:
    assert word in message


def test_a_target_glued_to_the_prompts_last_word_is_refused(gemma):
  with pytest.raises(explain.ExplainError, match="no tokens of its own"):
    explain.explain(gemma, "Hello wor", "ld")


def test_unknown_methods_and_overlong_texts_are_refused(gemma):
  with pytest.raises(ValueError, match="smooth_grad.*known: grad_l2"):
    explain.explain(gemma, PROMPT, TARGET, methods=["smooth_grad"])
  with pytest.raises(ValueError, match="over the limit of 1024"):
    explain.explain(gemma, "word " * 1100, TARGET)
