"""The Explanation value: salience of prompt + target tokens for one
explained span, its segments, JSON form, colours and figures.

Kept apart from `explain()` (api.py), which computes it, so that the
deletion test (faithfulness.py) and ablation can take an Explanation
without importing what computes one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import numpy as np

from lit_gemma import errors
from lit_gemma.explain import render
from lit_gemma.explain import segments as segments_lib
from lit_gemma.explain import verdicts
from lit_gemma.explain import registry

GRANULARITIES = segments_lib.GRANULARITIES + (segments_lib.PART,)
Segment = segments_lib.Segment
DEFAULT_METHOD = registry.DEFAULT_METHOD
Span = str | tuple[int, int] | None


class ExplainError(errors.UserError):
  """Input explain() refuses; the message is one line for the user."""


def quoted(text: str, most: int = 60) -> str:
  """`text` quoted on one line, cut to about `most` characters."""
  return repr(text if len(text) <= most else text[: most - 3] + "...")


@dataclasses.dataclass(frozen=True, eq=False)
class Explanation:
  """Salience of prompt + target tokens for one explained span.

  Attributes:
    prompt: the prompt text.
    target: the target text.
    tokens: display tokens of prompt + target, without BOS, as the UI shows.
    scores: method name -> one score per token.
    target_mask: 1 for each explained token, else 0.
    prompt_tokens: how many of `tokens` belong to the prompt.
    prompt_parts: [start, end, label] character spans of a prompt rendered
      from a template (prompts/parts.py), for granularity "part"; else empty.
    faithfulness: deletion tests of the maps (verdicts.py), when
      explain() was asked to `check` them.
    foil: the text the target is contrasted with ("" for none): every map
      then explains log p(target span) - log p(foil) over the prompt's
      tokens, and the target's own tokens score 0 (they do not line up
      with the foil's).
  """

  prompt: str
  target: str
  tokens: list[str]
  scores: dict[str, np.ndarray]
  target_mask: np.ndarray
  prompt_tokens: int
  prompt_parts: tuple[tuple[int, int, str], ...] = ()
  faithfulness: tuple[verdicts.Faithfulness, ...] = ()
  foil: str = ""

  @property
  def methods(self) -> tuple[str, ...]:
    return tuple(self.scores)

  @property
  def explained_text(self) -> str:
    """The explained tokens as text."""
    explained = [t for t, m in zip(self.tokens, self.target_mask) if m]
    return segments_lib.display_text(explained)

  def _scores(self, method: str) -> np.ndarray:
    if method not in self.scores:
      raise ExplainError(
          f"no salience method {method!r} in this explanation; it has "
          f"{list(self.scores)}")
    return self.scores[method]

  def segments(self, granularity: str = "word",
               method: str = DEFAULT_METHOD) -> list[Segment]:
    """Segments at `granularity` with `method`'s scores summed, in order."""
    if granularity not in GRANULARITIES:
      raise ExplainError(f"unknown granularity {granularity!r}; use one of "
                         f"{', '.join(GRANULARITIES)}")
    return self.segments_of(granularity, self._scores(method))

  def segments_of(self, granularity: str, scores) -> list[Segment]:
    """Segments at `granularity` of any per-token `scores`."""
    if granularity not in GRANULARITIES:
      raise ExplainError(f"unknown granularity {granularity!r}; use one of "
                         f"{', '.join(GRANULARITIES)}")
    try:
      return segments_lib.segments(self.tokens, scores, granularity,
                                   self.prompt_tokens, self.target_mask,
                                   self.prompt_parts)
    except errors.UserError as e:
      raise ExplainError(str(e)) from None

  def to_dict(self) -> dict:
    """Plain JSON types; `from_dict` gives back an equal Explanation."""
    return {
        "prompt": self.prompt, "target": self.target,
        "tokens": list(self.tokens),
        "scores": {m: [float(x) for x in v] for m, v in self.scores.items()},
        "target_mask": [float(x) for x in self.target_mask],
        "prompt_tokens": int(self.prompt_tokens),
        "prompt_parts": [list(p) for p in self.prompt_parts],
        "faithfulness": [f.to_dict() for f in self.faithfulness],
        "foil": self.foil,
    }

  @classmethod
  def from_dict(cls, d: dict) -> "Explanation":
    try:
      return cls(
          prompt=d["prompt"], target=d["target"], tokens=list(d["tokens"]),
          scores={m: np.asarray(v, np.float32)
                  for m, v in d["scores"].items()},
          target_mask=np.asarray(d["target_mask"], np.float32),
          prompt_tokens=int(d["prompt_tokens"]),
          prompt_parts=tuple((int(a), int(b), str(c))
                             for a, b, c in d.get("prompt_parts", ())),
          faithfulness=tuple(verdicts.Faithfulness.from_dict(f)
                             for f in d.get("faithfulness", ())),
          foil=str(d.get("foil") or ""))
    except (KeyError, TypeError, ValueError) as e:
      raise ExplainError(f"not an explanation: {type(e).__name__}: {e}"
                         ) from None

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), ensure_ascii=False)

  @classmethod
  def from_json(cls, text: str) -> "Explanation":
    try:
      return cls.from_dict(json.loads(text))
    except json.JSONDecodeError as e:
      raise ExplainError(f"not JSON: {e}") from None

  def caption(self, granularity: str = "word",
              method: str = DEFAULT_METHOD) -> str:
    """One line saying what the colours show."""
    if not registry.is_signed(method):
      colours = "darker: more salient"
    elif registry.get(method).support_sign > 0:
      colours = "blue-green: the target relies on it, pink: against it"
    else:
      colours = "pink: the target relies on it, blue-green: against it"
    versus = f" rather than {quoted(self.foil, 30)}" if self.foil else ""
    return (f"{method} by {granularity} for {quoted(self.explained_text, 40)}"
            f" (outlined){versus}; {colours}")

  def to_html(self, granularity: str = "word",
              method: str = DEFAULT_METHOD) -> str:
    """Coloured text as self-contained HTML (inline styles only)."""
    return render.to_html(self.segments(granularity, method),
                          registry.is_signed(method),
                          self.caption(granularity, method))

  def _repr_html_(self) -> str:
    methods = self.methods
    return self.to_html(
        "word", DEFAULT_METHOD if DEFAULT_METHOD in methods else methods[0])

  def figure(self, granularity: str = "word", method: str = DEFAULT_METHOD,
             *, width: float = 8.0):
    """Coloured text as a matplotlib Figure, wrapped at `width` inches."""
    return render.figure(self.segments(granularity, method),
                         registry.is_signed(method),
                         self.caption(granularity, method), width=width)


def _span_tokens(tokens: list[str], prompt: str, target: str,
                 prompt_tokens: int, span: Span) -> tuple[int, int]:
  """The (start, end) token range of prompt + target that `span` picks."""
  n = len(tokens)
  if span is None:
    return prompt_tokens, n
  if isinstance(span, str):
    at = target.find(span) if span else -1
    if at < 0:
      raise ExplainError(
          f"span {quoted(span)} is not in the target {quoted(target)}")
    text = prompt + target
    if segments_lib.display_text(tokens) != text.replace(
        segments_lib.SPM_SPACE, " "):
      raise ExplainError(
          "the tokens do not spell the text, so a span cannot be found by "
          "its text; pass span as a (start, end) token range instead")
    first, last = len(prompt) + at, len(prompt) + at + len(span)
    ends = np.cumsum([len(t) for t in tokens])
    starts = ends - [len(t) for t in tokens]
    hit = np.flatnonzero((starts < last) & (ends > first))
    start, end = int(hit[0]), int(hit[-1]) + 1
    while end < n and not tokens[end]:  # rest of a character's bytes
      end += 1
    start = max(start, prompt_tokens)
    if start >= end:
      raise ExplainError(
          f"span {quoted(span)} shares its token with the prompt")
    return start, end
  target_tokens = n - prompt_tokens
  if (isinstance(span, (tuple, list)) and len(span) == 2
      and all(isinstance(i, (int, np.integer)) for i in span)):
    start, end = int(span[0]), int(span[1])
    if 0 <= start < end <= target_tokens:
      return prompt_tokens + start, prompt_tokens + end
    raise ExplainError(
        f"span {tuple(span)} is not a token range of the target's "
        f"{target_tokens} tokens (0 <= start < end <= {target_tokens})")
  raise ExplainError(
      f"span must be a substring of the target or a (start, end) token "
      f"range, not {quoted(str(span))}")


def target_mask(tokens: Sequence[str], prompt: str, target: str,
                prompt_tokens: int, span: Span = None) -> np.ndarray:
  """The 0/1 mask over `tokens` that `span` picks (see explain())."""
  start, end = _span_tokens(list(tokens), prompt, target, prompt_tokens, span)
  mask = np.zeros(len(tokens), np.float32)
  mask[start:end] = 1
  return mask
