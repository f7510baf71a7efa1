"""Greedy deletion maps (`greedy_word`, `greedy_sentence`, `greedy_line`):
the order in which removing the prompt's segments hurts the explained
target most, found one removal at a time.

Leave-one-out and fitted ablations score each segment against the whole
prompt (or random halves of it), so they miss segments that matter more
together than apart: two examples that stand in for each other, the last
example once the query line is gone. Here the first segment removed is the
one whose removal lowers the target's log-likelihood most (leave-one-out's
top segment); each next one is the segment whose removal, with those
already removed, lowers it most; and so on until one is left, which goes
last (against the prompt with every segment removed). This is the
most-relevant-first path of deletion curves (Samek et al. 2017), taken
greedily: its first k segments are what "which k segments, removed
together, break this answer?" asks for. So its deletion test is partly
circular (as leave-one-out's is): read its sufficiency beside it.

A segment's score is the drop its removal caused on the path, pooled with
its neighbours where a later removal dropped more than an earlier one
(isotonic regression: the least-squares non-increasing fit, Barlow et al.
1972), so the scores fall in the order the segments were removed, a pair
that matters only together shares its joint drop, and the scores add up
to the whole prompt's effect: log p(target | prompt) - log p(target | no
prompt). Positive means the target relies on it. With n segments the path
costs n(n+1)/2 + 1 forward passes (one batch per step). Every variant is
kept per model (ablation.py), so the same map again is a sum; another span
of the same text scores new variants only where its path turns elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lit_gemma.explain import ablation
from lit_gemma.explain import leave_one_out
from lit_gemma.explain import registry

if TYPE_CHECKING:
  from lit_gemma.explain import explanation as explanation_lib
  from lit_gemma.models import lm as lm_lib

# The most segments searched (n(n+1)/2 + 1 passes grow fast); more is
# refused with a way out.
MAX_SEGMENTS = registry.GREEDY_MAX_SEGMENTS
# Within a pool of equal scores, removal order is kept by steps this small
# (nats; they sum to 0 within the pool), above float32's resolution.
TIE_STEP = 1e-3

Measure = Callable[[list[str]], np.ndarray]  # prompts -> log-likelihoods


def passes(segments: int) -> int:
  """Forward passes of a map over `segments` segments: the whole prompt,
  the empty one, then n, n - 1, ..., 2 candidates per step (no segments:
  the whole prompt is the empty one)."""
  return segments * (segments + 1) // 2 + 1


def path(prompt: str, spans: Sequence[tuple[int, int]], measure: Measure
         ) -> tuple[list[int], np.ndarray]:
  """(segment indices in the order removed, the drop each removal caused)
  by greedy deletion; `measure` scores a batch of prompts. The last
  segment's drop is against the prompt with every segment removed."""
  n = len(spans)
  whole, empty = measure([prompt, ablation.without(prompt, spans)])
  order: list[int] = []
  drops = np.zeros(n, np.float64)
  current = whole
  while len(order) < n - 1:
    left = [i for i in range(n) if i not in order]
    values = measure([ablation.without(prompt, [spans[j] for j in order] +
                                       [spans[i]]) for i in left])
    pick = int(np.argmax(current - values))  # ties: the earliest segment
    drops[len(order)] = current - values[pick]
    order.append(left[pick])
    current = values[pick]
  if n:
    order += [i for i in range(n) if i not in order]
    drops[n - 1] = current - empty
  return order, drops


def non_increasing(drops: np.ndarray) -> np.ndarray:
  """The least-squares non-increasing fit of `drops` (pool adjacent
  violators), each pool's equal values then stepped by `TIE_STEP` so the
  order is kept; every pool keeps its sum."""
  pools: list[list[float]] = []  # [sum, count]
  for d in drops:
    pools.append([float(d), 1])
    while len(pools) > 1 and (pools[-2][0] / pools[-2][1]
                              <= pools[-1][0] / pools[-1][1]):
      total, count = pools.pop()
      pools[-1][0] += total
      pools[-1][1] += count
  out = []
  for total, count in pools:
    steps = TIE_STEP * ((count - 1) / 2 - np.arange(count))
    out.extend(total / count + steps)
  return np.asarray(out, np.float64)


def segment_scores(order: Sequence[int], drops: np.ndarray) -> np.ndarray:
  """Each segment's score (in the prompt's order) from the path."""
  scores = np.zeros(len(order), np.float64)
  scores[list(order)] = non_increasing(drops)
  return scores


def _segments(exp: "explanation_lib.Explanation", method: str):
  granularity = leave_one_out.granularity_of(method)
  segments = ablation.prompt_segments(exp, granularity)
  if len(segments) > MAX_SEGMENTS:
    raise ablation.AblationError(
        f"{method} of a prompt of {len(segments)} {granularity} segments "
        f"would take {passes(len(segments))} forward passes (n(n+1)/2 + 1); "
        f"greedy deletion searches at most {MAX_SEGMENTS}: ask for "
        f"fit_{granularity} or loo_{granularity}, or greedy deletion at a "
        f"granularity with fewer segments")
  return segments, ablation.char_spans(exp, segments)


def scores(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
           method: str, max_length: int | None = None,
           progress: ablation.Progress | None = None) -> np.ndarray:
  """`method`'s per-token map of `exp` (its target span, its foil)."""
  segments, spans = _segments(exp, method)
  total, done = passes(len(segments)), 0

  def measure(prompts: list[str]) -> np.ndarray:
    nonlocal done
    values = ablation.log_likelihoods(lm, exp, prompts, max_length)
    done += len(prompts)
    if progress is not None:
      progress(min(done, total), total)
    return values

  order, drops = path(exp.prompt, spans, measure)
  return leave_one_out.spread(exp, segments, segment_scores(order, drops))


class _Unscored(Exception):
  pass


def unscored(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
             method: str) -> int:
  """0 when every variant the path needs is kept (the map is a sum); else
  at most how many forward passes it still needs."""
  segments, spans = _segments(exp, method)
  left = passes(len(segments))

  def measure(prompts: list[str]) -> np.ndarray:
    nonlocal left
    if ablation.unkept(lm, exp, prompts):
      raise _Unscored
    left -= len(prompts)
    return ablation.log_likelihoods(lm, exp, prompts)  # kept: no pass

  try:
    path(exp.prompt, spans, measure)
  except _Unscored:
    return max(left, 1) * (2 if exp.foil else 1)
  return 0


def first_prompts(exp: "explanation_lib.Explanation", method: str
                  ) -> list[str]:
  """The prompts of the path's first step (whole, empty, each removed
  alone), which every map of the text needs: the rest depend on them."""
  _, spans = _segments(exp, method)
  return [exp.prompt, ablation.without(exp.prompt, spans)] + [
      ablation.without(exp.prompt, [s]) for s in spans]
