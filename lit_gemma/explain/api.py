"""Explain one (prompt, target) without the UI: which prompt words, sentences
or lines drove the target, as numbers, coloured HTML or a matplotlib figure.

The gradient maps come from `GemmaLM.salience`, the path the LIT salience
model takes for the target mask the UI would send, so they equal what the
Sequence Salience module shows; segments.py groups and sums them as the UI
does and render.py colours them as the UI does. Other methods of the
registry (registry.py) are computed by kind: integrated gradients and
contrastive gradient maps by gradient_maps.py, leave-one-out maps by
leave_one_out.py. With a `foil`, every map is contrastive.

    exp = explain.explain(lm, "Water is made of", " hydrogen and oxygen.",
                          span=" oxygen")
    exp.segments("word")[0]   # Segment(text='Water', ..., score=..., ...)
    exp.figure("sentence")    # or exp.to_html(...), or just `exp` in Jupyter
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from lit_gemma import errors
from lit_gemma.explain import ablation
from lit_gemma.explain import faithfulness as faithfulness_lib
from lit_gemma.explain import gradient_maps
from lit_gemma.explain import ablation_maps
from lit_gemma.explain import registry
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
  foil: str = ""
  # Instead of `span`: 0/1 over the shown tokens, as the UI sends it.
  target_mask: Sequence[float] | None = None


def _check_methods(lm, methods) -> tuple[str, ...]:
  try:
    names = registry.check_names(methods or lm.engine.methods)
  except errors.UserError as e:
    raise ExplainError(str(e)) from None
  missing = [n for n in registry.of_kind(registry.GRADIENT, names)
             if n not in lm.engine.methods]
  if missing:
    raise ExplainError(f"this model's engine does not compute {missing}; "
                       f"it computes {list(lm.engine.methods)}")
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
  if item.target_mask is not None and len(item.target_mask):
    mask = np.asarray(item.target_mask, np.float32).reshape(-1)
    if item.span is not None or len(mask) != len(tokens):
      raise ExplainError(
          f"target_mask has {len(mask)} entries for {len(tokens)} tokens"
          if item.span is None else "give a target_mask or a span, not both")
    return prompt_tokens, mask
  return prompt_tokens, target_mask(tokens, item.prompt, item.target,
                                    prompt_tokens, item.span)


def skeleton(lm: lm_lib.GemmaLM, item: Item,
             max_length: int | None = loading.DEFAULT_MAX_LENGTH
             ) -> Explanation:
  """`item`'s Explanation without scores: tokens, mask, foil checked."""
  prompt_tokens, mask = _prepare(lm, item, max_length)
  if item.foil is not None and not isinstance(item.foil, str):
    raise ExplainError(f"foil must be text, not {type(item.foil).__name__}")
  if item.foil == item.target and item.foil:
    raise ExplainError("the foil equals the target: a contrast needs "
                       "another text")
  return Explanation(
      prompt=item.prompt, target=item.target,
      tokens=lm.shown_tokens(item.prompt, item.target, max_length),
      scores={}, target_mask=mask, prompt_tokens=prompt_tokens,
      prompt_parts=tuple(tuple(p) for p in item.prompt_parts),
      foil=item.foil or "")


def explain_many(lm: lm_lib.GemmaLM, items: Sequence[Item], *,
                 methods: Sequence[str] | None = None,
                 max_length: int | None = loading.DEFAULT_MAX_LENGTH,
                 steps: int | None = None,
                 progress: ablation.Progress | None = None
                 ) -> list[Explanation]:
  """explain() for several items; gradient maps in the engine's batched
  calls, the other methods one item at a time."""
  names = _check_methods(lm, methods)
  bare = [skeleton(lm, item, max_length) for item in items]
  scores: list[dict[str, np.ndarray]] = [{} for _ in items]
  gradient = registry.of_kind(registry.GRADIENT, names)
  plain = [i for i, exp in enumerate(bare) if not exp.foil]
  if gradient and plain:
    outs = lm.salience_batch(
        [lm_lib.SalienceRequest(bare[i].prompt, bare[i].target,
                                target_mask=bare[i].target_mask)
         for i in plain], max_length)
    for i, out in zip(plain, outs):
      scores[i] |= {m: out.scores[m] for m in gradient}
  for i, exp in enumerate(bare):
    if gradient and exp.foil:
      scores[i] |= gradient_maps.contrastive(lm, exp, gradient, max_length)
    for name in names:
      kind = registry.get(name).kind
      if kind == registry.PATH:
        scores[i][name] = gradient_maps.integrated_gradients(
            lm, exp, steps, max_length, progress)[0]
      elif kind == registry.ABLATION:
        scores[i][name] = ablation_maps.scores(lm, exp, name, max_length,
                                               progress)
  return [dataclasses.replace(exp, scores={
      n: np.asarray(s[n], np.float32) for n in names})
          for exp, s in zip(bare, scores)]


def explain(lm: lm_lib.GemmaLM, prompt: str, target: str, *,
            span: Span = None,
            methods: tuple[str, ...] | list[str] | None = None,
            max_length: int | None = loading.DEFAULT_MAX_LENGTH,
            prompt_parts: Sequence[tuple[int, int, str]] = (),
            foil: str = "", steps: int | None = None,
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
    foil: a text to contrast the target with: every map then explains
      log p(target span) - log p(foil) over the prompt's tokens.
    steps: quadrature nodes of integrated gradients (default: the
      registry's).
    check: a granularity: also run the deletion test of each map at it
      (faithfulness.check; `check_options` go to it) into `.faithfulness`.

  Raises:
    ExplainError, a `UserError` with a one-line message.
  """
  exp = explain_many(lm, [Item(prompt, target, span, prompt_parts, foil)],
                     methods=methods, max_length=max_length, steps=steps)[0]
  if check is None:
    return exp
  exp.segments(check, exp.methods[0])  # refuses a bad granularity
  return dataclasses.replace(exp, faithfulness=faithfulness_lib.check(
      lm, exp, check, max_length=max_length, **check_options))
