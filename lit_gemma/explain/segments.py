"""Group display tokens into words, sentences, lines or paragraphs the way
LIT's Sequence Salience module does, and add up their scores.

The UI (lit-nlp 1.3.1) joins the tokens into one string, finds the places
where a segment starts with a regular expression, and starts a new segment
at the first token that reaches past each such place; a segment's score is
the plain sum of its tokens' scores (signed methods stay signed), and its
text is its tokens joined with `▁` shown as a space. Sources followed:

- lit_nlp/client/modules/sequence_salience_module.ts: `currentTokenGroups`
  (one expression per granularity), `activeSalience` (`groupAlike` and
  `sumArray`), `currentSegmentTexts` (`cleanSpmText`).
- lit_nlp/client/lib/token_utils.ts: `groupTokensByRegex` (prefix mode breaks
  before a match; separator mode also after it, so a run of newlines is a
  segment of its own).
- lit_nlp/client/lib/utils.ts: `groupAlike`, `sumArray`.

As in the UI, only one segment starts per token: when several match starts
fall inside one token, the ones left over start segments at the next tokens.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np

from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.prompts import parts as parts_lib

SPM_SPACE = "▁"
GRANULARITIES = ("token", "word", "sentence", "line", "paragraph")
# Beyond the UI's five: a template-rendered prompt's parts (prompts/parts.py).
PART = "part"
PROMPT = fields.PROMPT
TARGET = fields.TARGET

# JavaScript's `\s`, which differs from Python's (no \x1c-\x1f or \x85; \ufeff).
_SPACE = ("\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
          "\u3000\ufeff")
# A word starts at a run of spaces (or `▁`), or at the first non-newline
# character after a newline (so "\n\nfoo" is "\n\n" then "foo").
_WORD_START = re.compile(f"([{SPM_SPACE}{_SPACE}]+)|(?<=\n)[^\n]")
# A sentence starts at a run of newlines, after a newline, or at the spaces
# after ".", "?" or "!".
_SENTENCE_START = re.compile(
    f"(\n+)|((?<=\n)[^\n])|((?<=[.?!])([{SPM_SPACE}{_SPACE}]+))")
_LINE_BREAK = re.compile("\n+")
_PARAGRAPH_BREAK = re.compile("\n\n+")


class GranularityError(errors.UserError):
  """An unknown granularity name."""


@dataclasses.dataclass(frozen=True)
class Segment:
  """A run of tokens shown as one chip, with its summed score.

  Attributes:
    text: the tokens' text as the user reads it (`▁` as a space).
    start: index of its first token.
    end: index after its last token.
    score: sum of its tokens' scores.
    part: "prompt" if it starts in the prompt, else "target".
    is_explained: whether any of its tokens is in the target mask.
    label: at granularity "part", the part's label ("template",
      "example 1", "{{name}}", "target"); else "".
  """

  text: str
  start: int
  end: int
  score: float
  part: str
  is_explained: bool
  label: str = ""


def display_text(tokens: Sequence[str]) -> str:
  """Tokens joined as the UI shows them."""
  return "".join(tokens).replace(SPM_SPACE, " ")


def _group(tokens: Sequence[str], pattern: re.Pattern,
           break_after_match: bool) -> list[tuple[int, int]]:
  """Token ranges, a new one at the first token reaching past each break."""
  breaks = []
  for match in pattern.finditer("".join(tokens)):
    breaks.append(match.start())
    if break_after_match:
      breaks.append(match.end())
  ranges, start, offset, pending = [], 0, 0, 0
  for i, token in enumerate(tokens):
    if pending < len(breaks) and offset + len(token) > breaks[pending]:
      if i > start:
        ranges.append((start, i))
      start = i
      pending += 1
    offset += len(token)
  if start < len(tokens):
    ranges.append((start, len(tokens)))
  return ranges


def token_ranges(tokens: Sequence[str],
                 granularity: str) -> list[tuple[int, int]]:
  """(start, end) of each segment at `granularity`, covering every token."""
  if granularity == "token":
    return [(i, i + 1) for i in range(len(tokens))]
  if granularity == "word":
    return _group(tokens, _WORD_START, break_after_match=False)
  if granularity == "sentence":
    return _group(tokens, _SENTENCE_START, break_after_match=False)
  if granularity == "line":
    return _group(tokens, _LINE_BREAK, break_after_match=True)
  if granularity == "paragraph":
    return _group(tokens, _PARAGRAPH_BREAK, break_after_match=True)
  raise GranularityError(
      f"unknown granularity {granularity!r}; use one of {GRANULARITIES}")


def segments(tokens: Sequence[str], scores: Sequence[float], granularity: str,
             prompt_tokens: int, target_mask: Sequence[float],
             prompt_parts: Sequence[parts_lib.Part] = ()) -> list[Segment]:
  """The segments of `tokens` at `granularity`, each with its summed score
  (granularity "part" needs the prompt's `prompt_parts`)."""
  scores = np.asarray(scores, np.float64)
  target_mask = np.asarray(target_mask)
  if not len(scores) == len(target_mask) == len(tokens):
    raise ValueError(
        f"{len(tokens)} tokens but {len(scores)} scores and "
        f"{len(target_mask)} mask entries")
  if granularity == PART:
    ranges = parts_lib.token_ranges(tokens, prompt_parts, prompt_tokens)
  else:
    ranges = [(s, e, "") for s, e in token_ranges(tokens, granularity)]
  return [
      Segment(text=display_text(tokens[start:end]), start=start, end=end,
              score=float(scores[start:end].sum()),
              part=PROMPT if start < prompt_tokens else TARGET,
              is_explained=bool(target_mask[start:end].any()), label=label)
      for start, end, label in ranges
  ]
