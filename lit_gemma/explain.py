"""Explain one (prompt, target) without the UI: which prompt words, sentences
or lines drove the target, as numbers, coloured HTML or a matplotlib figure.

The numbers come from `GemmaLM.salience`, the path the LIT salience model
takes for the target mask the UI would send, so they equal what the
Sequence Salience module shows; segments.py groups and sums them as the UI
does and render.py colours them as the UI does.

    exp = explain.explain(lm, "Water is made of", " hydrogen and oxygen.",
                          span=" oxygen")
    exp.segments("word")[0]   # Segment(text='Water', ..., score=..., ...)
    exp.figure("sentence")    # or exp.to_html(...), or just `exp` in Jupyter
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import numpy as np

from lit_gemma import errors
from lit_gemma import faithfulness as faithfulness_lib
from lit_gemma import lm as lm_lib
from lit_gemma import loading
from lit_gemma import render
from lit_gemma import segments as segments_lib

GRANULARITIES = segments_lib.GRANULARITIES + (segments_lib.PART,)
Segment = segments_lib.Segment
DEFAULT_METHOD = "grad_l2"  # the UI's first choice
Span = str | tuple[int, int] | None


class ExplainError(errors.UserError):
  """Input explain() refuses; the message is one line for the user."""


def _short(text: str, most: int = 60) -> str:
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
      from a template (parts.py), for granularity "part"; else empty.
    faithfulness: deletion tests of the maps (faithfulness.py), when
      explain() was asked to `check` them.
  """

  prompt: str
  target: str
  tokens: list[str]
  scores: dict[str, np.ndarray]
  target_mask: np.ndarray
  prompt_tokens: int
  prompt_parts: tuple[tuple[int, int, str], ...] = ()
  faithfulness: tuple[faithfulness_lib.Faithfulness, ...] = ()

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
    try:
      return segments_lib.segments(self.tokens, self._scores(method),
                                   granularity, self.prompt_tokens,
                                   self.target_mask, self.prompt_parts)
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
          faithfulness=tuple(faithfulness_lib.Faithfulness.from_dict(f)
                             for f in d.get("faithfulness", ())))
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
    colours = ("pink < 0 < blue-green" if render.is_signed(method)
               else "darker: more salient")
    return (f"{method} by {granularity} for {_short(self.explained_text, 40)}"
            f" (outlined); {colours}")

  def to_html(self, granularity: str = "word",
              method: str = DEFAULT_METHOD) -> str:
    """Coloured text as self-contained HTML (inline styles only)."""
    return render.to_html(self.segments(granularity, method),
                          render.is_signed(method),
                          self.caption(granularity, method))

  def _repr_html_(self) -> str:
    methods = self.methods
    return self.to_html(
        "word", DEFAULT_METHOD if DEFAULT_METHOD in methods else methods[0])

  def figure(self, granularity: str = "word", method: str = DEFAULT_METHOD,
             *, width: float = 8.0):
    """Coloured text as a matplotlib Figure, wrapped at `width` inches."""
    return render.figure(self.segments(granularity, method),
                         render.is_signed(method),
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
          f"span {_short(span)} is not in the target {_short(target)}")
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
          f"span {_short(span)} shares its token with the prompt")
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
      f"range, not {_short(str(span))}")


def target_mask(tokens: Sequence[str], prompt: str, target: str,
                prompt_tokens: int, span: Span = None) -> np.ndarray:
  """The 0/1 mask over `tokens` that `span` picks (see explain())."""
  start, end = _span_tokens(list(tokens), prompt, target, prompt_tokens, span)
  mask = np.zeros(len(tokens), np.float32)
  mask[start:end] = 1
  return mask


@dataclasses.dataclass(frozen=True)
class Item:
  """One (prompt, target) for explain_many; fields as explain()'s."""

  prompt: str
  target: str
  span: Span = None
  prompt_parts: Sequence[tuple[int, int, str]] = ()


def _check_methods(lm, methods) -> tuple[str, ...]:
  names = tuple(methods or lm.engine.methods)
  unknown = sorted(set(names) - set(lm.engine.methods))
  if unknown or not names:
    raise ExplainError(f"unknown salience method(s) {unknown or list(names)};"
                       f" known: {sorted(lm.engine.methods)}")
  return names


def _prepare(lm, item: Item, max_length) -> tuple[int, np.ndarray]:
  """(prompt tokens, target mask) for `item`, or ExplainError."""
  if not item.target:
    raise ExplainError("target is empty: give the text to explain after "
                       "the prompt")
  tokens = lm.shown_tokens(item.prompt, item.target, max_length)
  # As the salience model's default mask: the target is what follows the
  # prompt's own tokens.
  prompt_tokens = min(len(lm.encode(item.prompt)) - 1, len(tokens))
  if prompt_tokens == len(tokens):
    raise ExplainError(
        f"target {_short(item.target)} has no tokens of its own: it merges "
        f"into the prompt's last token; start it at a word boundary")
  return prompt_tokens, target_mask(tokens, item.prompt, item.target,
                                    prompt_tokens, item.span)


def explain_many(lm: lm_lib.GemmaLM, items: Sequence[Item], *,
                 methods: Sequence[str] | None = None,
                 max_length: int | None = loading.DEFAULT_MAX_LENGTH
                 ) -> list[Explanation]:
  """explain() for several items, in the engine's batched calls."""
  names = _check_methods(lm, methods)
  prepared = [_prepare(lm, item, max_length) for item in items]
  outs = lm.salience_batch(
      [lm_lib.SalienceRequest(i.prompt, i.target, target_mask=mask)
       for i, (_, mask) in zip(items, prepared)], max_length)
  return [
      Explanation(
          prompt=item.prompt, target=item.target, tokens=list(out.tokens),
          scores={m: np.asarray(out.scores[m], np.float32) for m in names},
          target_mask=mask, prompt_tokens=prompt_tokens,
          prompt_parts=tuple(tuple(p) for p in item.prompt_parts))
      for item, out, (prompt_tokens, mask) in zip(items, outs, prepared)]


def explain(lm: lm_lib.GemmaLM, prompt: str, target: str, *,
            span: Span = None,
            methods: tuple[str, ...] | list[str] | None = None,
            max_length: int | None = loading.DEFAULT_MAX_LENGTH,
            prompt_parts: Sequence[tuple[int, int, str]] = (),
            check: str | None = None, **check_options) -> Explanation:
  """Salience of `prompt` + `target` for the target tokens `span` picks.

  Args:
    lm: the loaded model.
    prompt: the text before the target.
    target: the text whose prediction is explained (e.g. a response).
    span: which target tokens to explain: all of them (None), the tokens
      covering the first occurrence of a substring of `target`, or a
      (start, end) range of the target's own tokens.
    methods: salience methods to compute; default: all the engine computes.
    max_length: most tokens (prompt + target) explained (None: no limit).
    prompt_parts: the prompt's template parts (parts.py), for "part".
    check: a granularity: also run the deletion test of each map at it
      (faithfulness.check; `check_options` go to it) into `.faithfulness`.

  Raises:
    ExplainError, a `UserError` with a one-line message.
  """
  exp = explain_many(lm, [Item(prompt, target, span, prompt_parts)],
                     methods=methods, max_length=max_length)[0]
  if check is None:
    return exp
  exp.segments(check, exp.methods[0])  # refuses a bad granularity
  return dataclasses.replace(exp, faithfulness=faithfulness_lib.check(
      lm, exp, check, max_length=max_length, **check_options))
