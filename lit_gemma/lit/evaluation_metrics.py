"""The `evaluation` metrics of LIT's Metrics module: `lit-gemma evaluate`'s
figures (evaluation/summary.py) over the rows the module sends, for each
selected `NAME_eval` model.

The Metrics module asks for the whole dataset, the selection, and each
facet the user picks (`template_id`, `split`, `route`, `kind`: declared
CategoryLabel fields, fields.declared_spec), and shows one row per model
and facet with a column per figure; the figures are computed from the
evaluation model's row measures by the same function `evaluate` uses, so
both agree for the same rows.
"""

from __future__ import annotations

import math

from lit_nlp.api import components as lit_components
from lit_nlp.api import types as lit_types

from lit_gemma import fields
from lit_gemma.evaluation import summary
from lit_gemma.lit.columns import evaluation

NAME = "evaluation"
_BEST = {summary.HIGHER: lit_types.MetricBestValue.HIGHEST,
         summary.LOWER: lit_types.MetricBestValue.LOWEST,
         summary.NEITHER: lit_types.MetricBestValue.NONE}


class EvaluationMetrics(lit_components.Metrics):
  """evaluate's figures for an evaluation model's rows."""

  def description(self) -> str:
    return ("lit-gemma evaluate's figures: target log-likelihood, exact / "
            "contains match, ROUGE-L, refusal and over-refusal rates")

  def is_compatible(self, model, dataset) -> bool:
    del dataset
    return evaluation.is_eval_model(model)

  def is_field_compatible(self, pred_spec, parent_spec) -> bool:
    del parent_spec
    return isinstance(pred_spec, lit_types.GeneratedText)

  def meta_spec(self) -> lit_types.Spec:
    return {name: lit_types.MetricResult(
        best_value=_BEST[best], description=summary.DESCRIPTIONS[name])
            for name, best in summary.FIGURES.items()}

  def run(self, inputs, model, dataset, model_outputs=None, config=None):
    del dataset, config
    if not evaluation.is_eval_model(model):
      return []
    inputs = list(inputs)
    outputs = (list(model_outputs) if model_outputs is not None
               else list(model.predict(inputs)))
    figures = summary.summarize(evaluation.rows_of(inputs, outputs))
    return [{"pred_key": evaluation.RESPONSE, "label_key": fields.TARGET,
             "metrics": {k: None if math.isnan(v) else v
                         for k, v in figures.items()}}]
