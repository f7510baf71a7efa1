"""How faithful a salience map is, for one explanation: a deletion test
against random deletions, ERASER's comprehensiveness and sufficiency, and
rank agreement with ablation (verdicts.py defines each).

For a granularity and a method:
  - the map's top-k prompt segments (k >= 2) are removed together, and
    separately k random segments (`draws` seeded draws; a draw of exactly
    the map's top k is left out of its comparison); a map whose drop in
    the explained target's log-likelihood (ablation.py) is not above the
    90th percentile of the random drops is no better than random.
  - the top 1..k are removed (comprehensiveness) and kept alone
    (sufficiency).
  - the Spearman rank correlation between the map's segment scores and
    each segment's own ablation drop.

Orientation comes from the registry: a signed method's scores are turned
so that larger means "the target relies on it" (`grad_dot_input`, which
differentiates the loss, is negated; leave-one-out and integrated
gradients already point that way) and correlated with the signed drop; an
unsigned method (`grad_l2`) says how much, not which way: it is ranked by
its score and correlated with |drop|. Leave-one-out ranks by single
removals, so its deletion test is partly circular: read its sufficiency.
Every forward pass runs in batched `GemmaLM.score_batch` calls, each
variant once (ablation.py keeps them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from lit_gemma import errors
from lit_gemma.explain import ablation as ablation_lib
from lit_gemma.explain import registry
from lit_gemma.explain.verdicts import DRAWS, Faithfulness

if TYPE_CHECKING:
  from lit_gemma.explain import explanation as explanation_lib
  from lit_gemma.models import lm as lm_lib


class FaithfulnessError(errors.UserError):
  """A check that cannot run on this text; the message says why."""


def default_k(segments: int) -> int:
  """A fifth of the segments, at least 2, leaving at least one."""
  return max(2, min(math.ceil(segments / 5), segments - 1))


def importance(method: str, scores: np.ndarray) -> np.ndarray:
  """Scores turned so that larger means the target relies on it more."""
  return registry.importance(method, scores)


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
  if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
    return None
  return float(stats.spearmanr(a, b).statistic)


def check(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
          granularity: str = "word", *,
          methods: Sequence[str] | None = None, k: int | None = None,
          draws: int = DRAWS, seed: int = 0,
          max_length: int | None = None,
          progress: ablation_lib.Progress | None = None
          ) -> tuple[Faithfulness, ...]:
  """The verdict of each of `methods`' maps (default: all of `exp`'s)."""
  methods = tuple(methods or exp.methods)
  segments = ablation_lib.prompt_segments(exp, granularity, methods[0])
  n = len(segments)
  if n < 3:
    raise FaithfulnessError(
        f"the prompt has {n} segment(s) at granularity {granularity!r}; a "
        f"deletion test removes at least 2 and leaves at least 1, so it "
        f"needs 3 (choose a finer granularity)")
  k = default_k(n) if k is None else int(k)
  if not 2 <= k < n:
    raise FaithfulnessError(f"k={k} must be between 2 and {n - 1} (the "
                            f"prompt has {n} segments at {granularity!r})")
  if draws < 1:
    raise FaithfulnessError(f"draws={draws} must be at least 1")
  rng = np.random.default_rng(seed)
  random_sets = [rng.choice(n, k, replace=False) for _ in range(draws)]
  orders = {}
  for method in methods:
    scores = np.array([s.score for s in ablation_lib.prompt_segments(
        exp, granularity, method)])
    order = np.argsort(-importance(method, scores), kind="stable")
    orders[method] = (scores, [int(i) for i in order])
  spans = ablation_lib.char_spans(exp, segments)
  cut = lambda picked: ablation_lib.without(exp.prompt,
                                            [spans[i] for i in picked])
  keep = lambda picked: cut([i for i in range(n) if i not in set(picked)])
  prompts = [exp.prompt] + [cut([i]) for i in range(n)]
  for _, order in orders.values():
    prompts += [cut(order[:j]) for j in range(1, k + 1)]
    prompts += [keep(order[:j]) for j in range(1, k + 1)]
  prompts += [cut(r) for r in random_sets]
  values = ablation_lib.log_likelihoods(lm, exp, prompts, max_length,
                                        progress)
  drops = values[0] - values[1:]
  ablation_drops, drops = drops[:n], drops[n:]
  random_drops = drops[len(drops) - draws:]
  per_method = drops[: len(drops) - draws].reshape(len(orders), 2, k)
  results = []
  for (method, (scores, order)), (removed, kept) in zip(orders.items(),
                                                        per_method):
    removed = tuple(float(d) for d in removed)
    kept = tuple(float(d) for d in kept)
    # A draw of the map's own top k is no rival to it (with few segments
    # such draws are common and would tie with it).
    own = set(order[:k])
    rivals = tuple(float(d) for d, r in zip(random_drops, random_sets)
                   if set(int(i) for i in r) != own)
    signed = registry.is_signed(method)
    results.append(Faithfulness(
        method=method, granularity=granularity, k=k,
        segments=tuple(s.text for s in segments),
        ablation_drops=tuple(float(d) for d in ablation_drops),
        top_k=tuple(order[:k]), top_k_drop=removed[-1],
        random_drops=rivals or tuple(float(d) for d in random_drops),
        seed=seed,
        spearman=_spearman(importance(method, scores),
                           ablation_drops if signed
                           else np.abs(ablation_drops)),
        removal_drops=removed, kept_drops=kept, foil=exp.foil))
  return tuple(results)
