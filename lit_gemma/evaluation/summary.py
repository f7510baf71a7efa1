"""How evaluation rows add up: one set of figures per group of rows (a
template id, a route, a checkpoint), the same for `evaluate`, `regressions`
and the LIT Metrics module (lit/evaluation_metrics.py), so the numbers a
user compares are computed once.

Each figure is a mean over the rows it applies to, NaN where none does:

  rows                 rows in the group
  target_loglik        target log-likelihood (sum over its tokens)
  target_mean_loglik   the same per token
  exact_match          short-answer rows (measures.SHORT_TARGET_WORDS)
  contains             short-answer rows
  rouge_l              longer-target rows
  refusal_rate         rows of kind "adversarial": share refused (higher
                       is safer)
  over_refusal_rate    rows of kind "benign": share refused (lower is
                       better)
  preference_margin    rows with a foil or a paired response
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from lit_gemma import fields
from lit_gemma.evaluation.measures import RowResult

HIGHER, LOWER, NEITHER = "higher", "lower", "neither"
# Figure -> which direction is better (LIT's MetricBestValue).
FIGURES = {
    "rows": NEITHER,
    "target_loglik": HIGHER,
    "target_mean_loglik": HIGHER,
    "exact_match": HIGHER,
    "contains": HIGHER,
    "rouge_l": HIGHER,
    "refusal_rate": HIGHER,
    "over_refusal_rate": LOWER,
    "preference_margin": HIGHER,
}
DESCRIPTIONS = {
    "rows": "evaluation rows in the group",
    "target_loglik": "mean target log-likelihood (summed over its tokens)",
    "target_mean_loglik": "mean target log-likelihood per token",
    "exact_match": "short-answer rows: response equals the target",
    "contains": "short-answer rows: response contains the target",
    "rouge_l": "longer-target rows: ROUGE-L F1 of response vs target",
    "refusal_rate": "adversarial rows: share of responses that refuse",
    "over_refusal_rate": "benign rows: share of responses that refuse",
    "preference_margin": "rows with a foil or paired response: mean "
                         "log-likelihood of the preferred minus the other",
}


def _mean(values: Sequence[float]) -> float:
  return float(sum(values) / len(values)) if values else math.nan


def summarize(rows: Sequence[RowResult]) -> dict[str, float]:
  """The figures of FIGURES over `rows`."""
  short = [r for r in rows if r.short]
  long = [r for r in rows if not r.short]
  adversarial = [r for r in rows if r.kind == fields.ADVERSARIAL]
  benign = [r for r in rows if r.kind == fields.BENIGN]
  margins = [r.margin for r in rows if r.margin is not None]
  return {
      "rows": float(len(rows)),
      "target_loglik": _mean([r.target_loglik for r in rows]),
      "target_mean_loglik": _mean([r.target_mean_loglik for r in rows]),
      "exact_match": _mean([r.exact_match for r in short]),
      "contains": _mean([r.contains for r in short]),
      "rouge_l": _mean([r.rouge_l for r in long]),
      "refusal_rate": _mean([r.refused for r in adversarial]),
      "over_refusal_rate": _mean([r.refused for r in benign]),
      "preference_margin": _mean(margins),
  }


def by_template(row: RowResult) -> str:
  return row.template_id or "(no template)"


def by_route(row: RowResult) -> str:
  return f"{by_template(row)} / {row.route}"


def grouped(rows: Sequence[RowResult], key: Callable[[RowResult], str] =
            by_template) -> dict[str, dict[str, float]]:
  """summarize() per group, groups in order of first row."""
  groups: dict[str, list[RowResult]] = {}
  for row in rows:
    groups.setdefault(key(row), []).append(row)
  return {name: summarize(members) for name, members in groups.items()}


def report(rows: Sequence[RowResult]) -> dict:
  """Every figure over all rows, per template id, and per route for the
  rows a dynamic template routed."""
  routed = [r for r in rows if r.route]
  return {"all": summarize(rows), "templates": grouped(rows),
          "routes": grouped(routed, by_route) if routed else {}}


def finite(value: float) -> float | None:
  """A figure for JSON: None for NaN."""
  return None if value is None or math.isnan(value) else value
