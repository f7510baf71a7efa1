"""Fitted ablation maps on a tiny random Gemma 3: each segment's score is
its weight in a least-squares fit of the target's log-likelihood after
each ablation, fitted here by numpy's lstsq, within 1e-4: by sentence with
every log-likelihood taken through keras-hub's own backbone (a full
forward pass per ablated prompt), by word with the engine's (each of its
shapes would compile the backbone anew; test_leave_one_out.py checks the
engine's against the backbone's)."""

from __future__ import annotations

import numpy as np
import pytest

from backbone_reference import continuation_log_likelihood as _loglik
from lit_gemma import explain
from lit_gemma.explain import ablation
from lit_gemma.explain import ablation_fit
from lit_gemma.explain import ablation_maps

PROMPT = "Water is made of hydrogen. The capital of France is"
TARGET = " Paris and Rome."


def test_masks_are_seeded_halves_then_each_segment_alone():
  masks = ablation_fit.removal_masks(6)
  assert masks.shape == (ablation_fit.SAMPLES + 6, 6)
  np.testing.assert_array_equal(masks[-6:], np.eye(6, dtype=bool))
  drawn = masks[:-6]
  assert all(0 < m.sum() < 6 for m in drawn)
  assert 0.35 < drawn.mean() < 0.65  # about half removed
  np.testing.assert_array_equal(masks, ablation_fit.removal_masks(6))


def test_few_segments_have_every_subset_but_none_and_all():
  masks = ablation_fit.removal_masks(4)
  assert len(masks) == 14 and len({tuple(m) for m in masks}) == 14
  assert all(0 < m.sum() < 4 for m in masks)


def test_an_additive_target_is_fitted_exactly():
  masks = ablation_fit.removal_masks(5)
  weights = np.array([2.0, -1.0, 0.5, 0.0, 3.0])
  values = 1.5 + (~masks).astype(float) @ weights
  np.testing.assert_allclose(
      ablation_fit.fit(masks, values, 1.5 + weights.sum()), weights,
      atol=1e-3)


@pytest.mark.parametrize("granularity", ["word", "sentence"])
def test_scores_are_the_least_squares_weights_of_full_passes(lm, granularity):
  method = f"fit_{granularity}"
  exp = explain.explain(lm, PROMPT, TARGET, methods=[method])
  segments = [s for s in exp.segments(granularity, method)
              if s.part == "prompt"]
  assert len(segments) == (10 if granularity == "word" else 2)
  spans = ablation.char_spans(exp, segments)
  masks = ablation_fit.removal_masks(len(segments))
  kept = np.vstack([np.ones(len(segments)), ~masks]).astype(np.float64)
  prompts = [ablation.without(PROMPT, [s for s, cut in zip(spans, m) if cut])
             for m in np.vstack([np.zeros(len(segments), bool), masks])]
  if granularity == "sentence":
    y = np.array([_loglik(lm, p, TARGET) for p in prompts])
  else:
    y = np.array([row.astype(np.float64).sum() for row in lm.score_batch(
        [(p, TARGET) for p in prompts])])
  # The same ridge as the method, as extra rows of the system.
  design = np.hstack([kept, np.ones((len(kept), 1))])
  ridge = np.sqrt(ablation_fit.RIDGE) * np.eye(len(segments) + 1)[:-1]
  expected = np.linalg.lstsq(np.vstack([design, ridge]),
                             np.concatenate([y, np.zeros(len(segments))]),
                             rcond=None)[0][:-1]
  np.testing.assert_allclose([s.score for s in segments], expected,
                             atol=1e-4)
  assert not exp.scores[method][exp.prompt_tokens:].any()


def test_another_span_of_the_text_is_a_sum_of_kept_rows(lm):
  exp = explain.explain(lm, PROMPT, TARGET, methods=["fit_word"])
  other = explain.api.skeleton(lm, explain.Item(PROMPT, TARGET, span=" Rome"))
  assert ablation_maps.unscored(lm, exp, "fit_word") == 0
  assert ablation_maps.unscored(lm, other, "fit_word") == 0
  unseen = explain.api.skeleton(lm, explain.Item(
      "Water is made of oxygen. The capital of Italy is", TARGET))
  # (variants that spell one of the first text's are shared rows)
  assert 0 < ablation_maps.unscored(lm, unseen, "fit_word") <= len(
      ablation_fit.removal_masks(10)) + 1
