"""Fitted ablation maps (`fit_word`, `fit_sentence`, `fit_line`): a linear
model of the target's log-likelihood over many random ablations of the
prompt, as ContextCite fits one (Cohen-Wang et al., 2024).

Leave-one-out removes one segment at a time, so it cannot see segments
that stand in for each other (two copies of the answer, an instruction
said twice): removing either alone changes little. Here `SAMPLES` seeded
random subsets of the prompt's segments are removed together (each
segment with probability 1/2), besides each one alone (with at most 5
segments, every subset instead: an exact fit), and the explained
target's log-likelihood (the contrast's, with a foil) after each is fitted
by least squares (a small ridge) as

    log p(target | kept segments) ~ b + sum_s w_s * kept_s

A segment's score is its weight w_s: what keeping it adds to the target's
log-likelihood with the others as they fall, spread evenly over its tokens
(so the UI's sum at the method's own granularity is w_s). Positive means
the target relies on it. Every variant is scored in batched forward passes
and kept per model (ablation.py), so other spans of the same text are sums.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lit_gemma.explain import ablation
from lit_gemma.explain import leave_one_out
from lit_gemma.explain import registry

if TYPE_CHECKING:
  from lit_gemma.explain import explanation as explanation_lib
  from lit_gemma.models import lm as lm_lib

SAMPLES = registry.FIT_SAMPLES  # random removals, besides single ones
SEED = 0
RIDGE = 1e-3


def removal_masks(segments: int, samples: int = SAMPLES,
                  seed: int = SEED) -> np.ndarray:
  """(masks, segments) booleans, True where a segment is removed.

  With few segments, every subset that removes some but not all of them
  (at most samples + segments of them: an exact fit, no seed); else
  `samples` seeded random halves, then each segment alone. A draw that
  removes nothing or everything is drawn again (it says nothing about one
  segment against the others)."""
  if segments < 2:
    return np.zeros((0, segments), bool)
  if 2 ** segments - 2 <= samples + segments:
    every = (np.arange(1, 2 ** segments - 1)[:, None]
             >> np.arange(segments)) & 1
    return every.astype(bool).reshape(-1, segments)
  rng = np.random.default_rng(seed)
  drawn = []
  while len(drawn) < samples:
    mask = rng.random(segments) < 0.5
    if 0 < mask.sum() < segments:
      drawn.append(mask)
  return np.concatenate([np.asarray(drawn, bool),
                         np.eye(segments, dtype=bool)])


def variants(exp: "explanation_lib.Explanation", method: str
             ) -> tuple[list, np.ndarray, list[str]]:
  """(the prompt's segments, their removal masks, the prompts scored:
  whole, then one per mask) of `method`'s map."""
  segments = ablation.prompt_segments(exp, leave_one_out.granularity_of(
      method))
  spans = ablation.char_spans(exp, segments)
  masks = removal_masks(len(segments))
  return segments, masks, [exp.prompt] + [
      ablation.without(exp.prompt, [s for s, cut in zip(spans, m) if cut])
      for m in masks]


def fit(masks: np.ndarray, values: np.ndarray, whole: float) -> np.ndarray:
  """Least-squares weights of keeping each segment (intercept unpenalised)
  from the log-likelihoods `values` after each mask's removal and `whole`
  with nothing removed."""
  kept = np.concatenate([np.ones((1, masks.shape[1])), ~masks]).astype(
      np.float64)
  design = np.hstack([kept, np.ones((len(kept), 1))])
  penalty = RIDGE * np.eye(design.shape[1])
  penalty[-1, -1] = 0.0
  y = np.concatenate([[whole], values])
  return np.linalg.solve(design.T @ design + penalty, design.T @ y)[:-1]


def scores(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
           method: str, max_length: int | None = None,
           progress: ablation.Progress | None = None) -> np.ndarray:
  """`method`'s per-token map of `exp` (its target span, its foil)."""
  segments, masks, prompts = variants(exp, method)
  values = ablation.log_likelihoods(lm, exp, prompts, max_length, progress)
  return leave_one_out.spread(exp, segments,
                              fit(masks, values[1:], values[0]))
