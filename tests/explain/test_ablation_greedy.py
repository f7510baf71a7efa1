"""Greedy deletion maps on a tiny random Gemma 3: the order and the drops equal
a greedy search written here over the log-likelihood of every subset of
segments removed (the whole prompt's checked against keras-hub's own
backbone), within 1e-4; the scores fall in the order removed, keep each
pool's sum and add up to the whole prompt's effect; a pair that matters only
together is found where leave-one-out sees nothing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backbone_reference import continuation_log_likelihood as _loglik
from lit_gemma import explain
from lit_gemma.explain import ablation
from lit_gemma.explain import ablation_greedy
from lit_gemma.explain import ablation_maps
from lit_gemma.explain import faithfulness

PROMPT = ("Water is made of hydrogen. The sky is blue.\n"
          "The capital of France is")
TARGET = " Paris."


def test_pooled_scores_fall_in_order_and_keep_each_pools_sum():
  drops = np.array([4.0, 1.0, 3.0, -2.0, 0.5])
  pooled = ablation_greedy.non_increasing(drops)
  assert np.all(np.diff(pooled) < 0)  # strictly: the order is kept
  np.testing.assert_allclose(pooled, [4.0, 2.0, 2.0, -0.75, -0.75],
                             atol=ablation_greedy.TIE_STEP)
  assert pooled.sum() == np.float64(drops.sum())
  falling = np.array([3.0, 2.0, -1.0])
  np.testing.assert_array_equal(ablation_greedy.non_increasing(falling),
                                falling)


def test_a_pair_that_matters_only_together_is_removed_first():
  # "a" and "b" stand in for each other (either keeps 10); "c" adds 2.
  prompt, spans = "a b c d", [(0, 2), (2, 4), (4, 6), (6, 7)]

  def measure(prompts):
    return np.array([10.0 * ("a" in p or "b" in p) + 2.0 * ("c" in p)
                     for p in prompts])

  order, drops = ablation_greedy.path(prompt, spans, measure)
  assert order == [2, 0, 1, 3]  # c (2), then a (0: a tie, the first), b
  np.testing.assert_array_equal(drops, [2.0, 0.0, 10.0, 0.0])
  scores = ablation_greedy.segment_scores(order, drops)
  assert set(np.argsort(-scores)[:3]) == {0, 1, 2}
  assert abs(scores.sum() - 12.0) < 1e-12  # whole minus empty


def test_scores_are_a_greedy_search_over_every_subset(lm):
  exp = explain.explain(lm, PROMPT, TARGET, methods=["greedy_sentence"])
  segments = [s for s in exp.segments("sentence", "greedy_sentence")
              if s.part == "prompt"]
  assert len(segments) == 4  # two sentences, the newline, the last line
  spans = ablation.char_spans(exp, segments)
  subsets = [removed for r in range(len(spans) + 1)
             for removed in itertools.combinations(range(len(spans)), r)]
  prompts = [ablation.without(PROMPT, [spans[i] for i in removed])
             for removed in subsets]
  # The whole prompt through keras-hub's backbone, the rest through the
  # engine's batches (test_leave_one_out.py ties the two within 1e-5).
  rows = lm.score_batch([(p, TARGET) for p in prompts])
  loglik = {removed: float(row.astype(np.float64).sum())
            for removed, row in zip(subsets, rows)}
  assert abs(loglik[()] - _loglik(lm, PROMPT, TARGET)) < 1e-4
  order, drops = [], []
  while len(order) < len(spans):
    done = tuple(sorted(order))
    step = {i: loglik[done] - loglik[tuple(sorted(order + [i]))]
            for i in range(len(spans)) if i not in order}
    best = max(step, key=lambda i: (step[i], -i))  # ties: the first
    order.append(best)
    drops.append(step[best])
  expected = np.zeros(len(spans))
  expected[order] = ablation_greedy.non_increasing(np.array(drops))
  got = np.array([s.score for s in segments])
  np.testing.assert_allclose(got, expected, atol=1e-4)
  np.testing.assert_allclose(got.sum(), loglik[()] - loglik[tuple(range(
      len(spans)))], atol=1e-4)
  assert not exp.scores["greedy_sentence"][exp.prompt_tokens:].any()


def test_the_same_map_again_is_a_sum_and_starts_with_leave_one_out(lm):
  exp = explain.explain(lm, PROMPT, TARGET, methods=["greedy_sentence"])
  assert ablation_maps.unscored(lm, exp, "greedy_sentence") == 0
  unseen = explain.api.skeleton(lm, explain.Item(
      "Water is made of oxygen. The sea is blue.\nThe capital of Italy is",
      TARGET))
  assert 0 < ablation_maps.unscored(lm, unseen, "greedy_sentence") <= (
      ablation_greedy.passes(4))
  (verdict,) = faithfulness.check(lm, exp, "sentence",
                                  methods=["greedy_sentence"])
  # The path's first removal is leave-one-out's top segment.
  assert verdict.top_k[0] == int(np.argmax(verdict.ablation_drops))


def test_too_many_segments_are_refused_with_a_way_out(lm):
  prompt = " ".join(["word"] * (ablation_greedy.MAX_SEGMENTS + 2))
  with pytest.raises(ablation.AblationError, match="ask for fit_word or "
                     "loo_word"):
    explain.explain(lm, prompt, TARGET, methods=["greedy_word"])
