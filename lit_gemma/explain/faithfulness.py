"""How faithful a salience map is, for one explanation: a deletion test
against random deletions, and rank agreement with ablation.

For a granularity and a method:
  - the map's top-k prompt segments are removed together, and separately
    k random segments (`draws` seeded draws); each time the drop in the
    explained target's log-likelihood is recorded (see ablation.py). A map
    that points at what the model relies on drops it more than random
    segments do; when its drop is not above the 90th percentile of the
    random drops the map is called no better than random.
  - the Spearman rank correlation between the map's segment scores and
    each segment's own ablation drop.

Orientation: the engine differentiates the target's *loss*, so for the
signed `grad_dot_input` a segment the target relies on scores negative
(removing it raises the loss by about -score); it is ranked by -score and
correlated with the signed drop. An unsigned method (`grad_l2`) says how
much, not which way: it is ranked by its score and correlated with |drop|.
Every forward pass (base, one per segment, the top-k and random deletions)
runs in one batched `GemmaLM.score_batch` call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from lit_gemma.explain import ablation as ablation_lib
from lit_gemma import errors

from lit_gemma.explain.verdicts import DRAWS, Faithfulness
from lit_gemma.salience import methods as methods_lib

if TYPE_CHECKING:
  from lit_gemma.explain import explanation as explanation_lib
  from lit_gemma.models import lm as lm_lib



class FaithfulnessError(errors.UserError):
  """A check that cannot run on this text; the message says why."""


def default_k(segments: int) -> int:
  """A fifth of the segments, at least 1, leaving at least one."""
  return max(1, min(math.ceil(segments / 5), segments - 1))


def importance(method: str, scores: np.ndarray) -> np.ndarray:
  """Scores turned so that larger means the target relies on it more."""
  return -scores if methods_lib.is_signed(method) else scores


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
  if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
    return None
  return float(stats.spearmanr(a, b).statistic)


def check(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
          granularity: str = "word", *,
          methods: Sequence[str] | None = None, k: int | None = None,
          draws: int = DRAWS, seed: int = 0,
          max_length: int | None = None) -> tuple[Faithfulness, ...]:
  """The deletion test and rank agreement of each of `methods`' maps."""
  methods = tuple(methods or exp.methods)
  segments = ablation_lib.prompt_segments(exp, granularity, methods[0])
  n = len(segments)
  if n < 2:
    raise FaithfulnessError(
        f"the prompt has {n} segment(s) at granularity {granularity!r}; a "
        f"deletion test needs at least 2 (choose a finer granularity)")
  k = default_k(n) if k is None else int(k)
  if not 1 <= k < n:
    raise FaithfulnessError(f"k={k} must be between 1 and {n - 1} (the "
                            f"prompt has {n} segments at {granularity!r})")
  if draws < 1:
    raise FaithfulnessError(f"draws={draws} must be at least 1")
  rng = np.random.default_rng(seed)
  random_sets = [rng.choice(n, k, replace=False) for _ in range(draws)]
  maps = {}
  for method in methods:
    scores = np.array([s.score for s in ablation_lib.prompt_segments(
        exp, granularity, method)])
    order = np.argsort(-importance(method, scores), kind="stable")
    maps[method] = (scores, tuple(int(i) for i in order[:k]))
  spans = ablation_lib.char_spans(exp, segments)
  cut = lambda picked: ablation_lib.without(exp.prompt,
                                            [spans[i] for i in picked])
  prompts = ([exp.prompt] + [cut([i]) for i in range(n)]
             + [cut(top) for _, top in maps.values()]
             + [cut(r) for r in random_sets])
  values = ablation_lib.log_likelihoods(lm, exp, prompts, max_length)
  drops = values[0] - values[1:]
  ablation_drops, drops = drops[:n], drops[n:]
  top_drops, random_drops = drops[: len(maps)], drops[len(maps):]
  results = []
  for (method, (scores, top)), top_drop in zip(maps.items(), top_drops):
    signed = methods_lib.is_signed(method)
    results.append(Faithfulness(
        method=method, granularity=granularity, k=k,
        segments=tuple(s.text for s in segments),
        ablation_drops=tuple(float(d) for d in ablation_drops),
        top_k=top, top_k_drop=float(top_drop),
        random_drops=tuple(float(d) for d in random_drops), seed=seed,
        spearman=_spearman(importance(method, scores),
                           ablation_drops if signed
                           else np.abs(ablation_drops))))
  return tuple(results)
