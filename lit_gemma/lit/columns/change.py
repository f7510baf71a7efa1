"""`AFTER_vs_BEFORE`: how each row changed from one checkpoint to another,
as data-table columns, when the server loads several
(`--models=before:SRC,after:SRC`: one such model for each model after the
first, against the first).

  target_loglik_change       summed target log-likelihood, after - before
  target_mean_loglik_change  the same per target token
  other_loglik_change        mean log-likelihood of the foil (`foil`) or,
                             in a preference pair, of the other response;
                             0 without one
  margin_change              preference margin (evaluation/measures.py),
                             after - before; 0 without one
  got_worse                  1 if the row's measure dropped: the margin
                             where it has one, else the target's mean
                             log-likelihood (as `regressions` ranks rows)

Sort by `margin_change` or `target_mean_loglik_change` for the rows tuning
hurt; the checkpoints' own values are in `before_scores` / `after_scores`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from lit_nlp.api import types as lit_types

from lit_gemma import fields
from lit_gemma.evaluation import measures
from lit_gemma.lit.columns import base

OUTPUTS = ("target_loglik_change", "target_mean_loglik_change",
           "other_loglik_change", "margin_change", "got_worse")


def change_name(after: str, before: str) -> str:
  """The change model's LIT name (selectable)."""
  return f"{after}_vs_{before}"


def _mean(logprobs) -> float:
  return float(np.sum(logprobs)) / len(logprobs) if len(logprobs) else 0.0


class ChangeModel(base.ColumnModel):
  """Likelihood changes of a row's target (and foil) between two models."""

  READS = (fields.FOIL, fields.PAIRED_TARGET, fields.IS_PREFERRED)

  def __init__(self, before_lm, after_lm, **kw):
    super().__init__(after_lm, **kw)
    self.before_lm = before_lm

  def description(self) -> str:
    name = lambda lm: lm.source.spec if lm.source else "in-memory model"
    return (f"change from {name(self.before_lm)} to {name(self.lm)}: "
            "target and foil likelihoods, preference margin")

  def output_spec(self) -> lit_types.Spec:
    return {name: lit_types.Scalar() for name in OUTPUTS}

  def _scores(self, lm, example: Mapping):
    prompt = str(example.get(fields.PROMPT) or "")
    pairs = [(prompt, str(example.get(fields.TARGET) or ""))]
    other = measures.other_text(example)
    if other is not None:
      pairs.append((prompt, other[0]))
    scored = lm.score_batch(pairs, self.max_length)
    return scored[0], (scored[1] if other is not None else None), other

  def compute_row(self, example: Mapping) -> dict:
    before, before_other, other = self._scores(self.before_lm, example)
    after, after_other, _ = self._scores(self.lm, example)
    row = {"target_loglik_change": float(np.sum(after) - np.sum(before)),
           "target_mean_loglik_change": _mean(after) - _mean(before),
           "other_loglik_change": 0.0, "margin_change": 0.0}
    drop = -row["target_mean_loglik_change"]
    if other is not None:
      row["other_loglik_change"] = _mean(after_other) - _mean(before_other)
      row["margin_change"] = (
          measures.margin(after, after_other, other[1])
          - measures.margin(before, before_other, other[1]))
      drop = -row["margin_change"]
    row["got_worse"] = int(drop > 0)
    return row
