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
from collections.abc import Sequence

import numpy as np

from lit_gemma.explain import faithfulness as faithfulness_lib
from lit_gemma.explain.explanation import Explanation, ExplainError, Span
from lit_gemma.explain.explanation import quoted, target_mask
from lit_gemma.models import lm as lm_lib
from lit_gemma.models import loading


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
        f"target {quoted(item.target)} has no tokens of its own: it merges "
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
    prompt_parts: the prompt's template parts (prompts/parts.py), for "part".
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
