"""Row measures and how they add up per template: what `evaluate`, the
Metrics module and `regressions` all report."""

import math

import numpy as np
import pytest

from lit_gemma.evaluation import measures
from lit_gemma.evaluation import summary


def row(target, response, kind="", template="t", logprobs=(-1.0, -3.0),
        other=None, **example):
  example = {"template_id": template, "target": target, "kind": kind,
             "prompt": "p", **example}
  return measures.row_result(example, response, np.asarray(logprobs),
                             None if other is None else np.asarray(other))


def test_short_answers_match_long_ones_get_rouge():
  exact = row(" Paris", "Paris.")
  contained = row(" Paris", " It is Paris, of course")
  long = row(" the cat sat on the mat", " the cat sat")
  assert (exact.exact_match, exact.contains) == (1.0, 1.0)
  assert (contained.exact_match, contained.contains) == (0.0, 1.0)
  assert not long.short and 0 < long.rouge_l < 1
  figures = summary.summarize([exact, contained, long])
  assert figures["exact_match"] == 0.5 and figures["contains"] == 1.0
  assert figures["rouge_l"] == pytest.approx(long.rouge_l)
  assert figures["target_loglik"] == -4.0
  assert figures["target_mean_loglik"] == -2.0


def test_refusal_rates_by_kind():
  rows = [row(" no", "I can't help with that.", "adversarial"),
          row(" no", "Sure, here it is.", "adversarial"),
          row(" ok", "I won't answer that.", "benign"),
          row(" ok", "Here you go.", "benign"),
          row(" ok", "Here you go.", "benign"),
          row(" ok", "I cannot help with this.", "")]  # no kind: not counted
  figures = summary.summarize(rows)
  assert figures["refusal_rate"] == 0.5
  assert figures["over_refusal_rate"] == pytest.approx(1 / 3)


def test_figures_with_no_row_to_apply_to_are_nan():
  figures = summary.summarize([row(" a b c d e f", "x")])
  assert math.isnan(figures["exact_match"])
  assert math.isnan(figures["refusal_rate"])
  assert math.isnan(figures["preference_margin"])


def test_margins_over_foils_and_pairs_and_groups():
  foil = row(" yes", "x", logprobs=(-1.0,), other=(-3.0,), foil=" no")
  rejected = row(" no", "x", template="u", logprobs=(-3.0,), other=(-1.0,),
                 paired_target=" yes", is_preferred="false")
  assert foil.margin == 2.0 and rejected.margin == 2.0
  grouped = summary.grouped([foil, rejected])
  assert list(grouped) == ["t", "u"]
  assert grouped["u"]["preference_margin"] == 2.0


def test_columns_round_trip():
  original = row(" yes", "I can't help.", "adversarial", other=(-2.0, -2.0),
                 foil=" no")
  back = measures.from_columns({"template_id": "t", "target": " yes",
                                "kind": "adversarial", "prompt": "p",
                                "foil": " no"},
                               measures.columns(original), original.response)
  assert back == original
