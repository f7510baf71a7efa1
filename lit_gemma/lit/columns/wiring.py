"""The data-table columns beyond the model groups, wired in one place for
`serve.build.build_app`: each Gemma's scoring model (`NAME_scores`),
evaluation model (`NAME_eval`) and verdict columns (`NAME_verdicts`,
computed in the background: all rows with `--verdict_columns`, else the
rows a request asks for), the change between checkpoints
(`AFTER_vs_BEFORE`, for every model after the first), the opt-in
part-share model (`NAME_parts`, `--part_columns`), their background
workers (behind the UI's requests: models/gate.py), and the hygiene
annotator.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, MutableMapping
from typing import Any

from lit_gemma.lit import model_groups
from lit_gemma.lit.columns import change
from lit_gemma.lit.columns import evaluation
from lit_gemma.lit.columns import hygiene_annotator
from lit_gemma.lit.columns import part_shares
from lit_gemma.lit.columns import scoring
from lit_gemma.lit.columns import verdicts
from lit_gemma.models import gate as gate_lib


def add_models(config, loaded: Mapping[str, Any],
               lit_models: MutableMapping[str, Any], *, jobs=None,
               responses: Mapping[str, Any] | None = None) -> list:
  """Adds the scoring, verdict (and, opted in, part-share) models of every
  group to `lit_models`; returns the models whose rows background workers
  fill, for `start_workers`. `responses`: each group's response function
  (its generation model's), for verdicts of datapoints without a target."""
  share_models = []
  sizes = {"batch_size": config.batch_size, "max_length": config.max_length}
  first = config.models[0][0] if config.models else None
  for name, _ in config.models:
    lit_models[scoring.scoring_name(name)] = scoring.ScoringModel(
        loaded[name], **sizes)
    lit_models[evaluation.eval_name(name)] = evaluation.EvalModel(
        loaded[name], _generation_model(lit_models[name]), **sizes)
    if name != first:
      lit_models[change.change_name(name, first)] = change.ChangeModel(
          loaded[first], loaded[name], **sizes)
    if jobs is not None and responses is not None:
      model = verdicts.VerdictModel(
          loaded[name], max_length=config.max_length, jobs=jobs,
          responses=responses[name], batch_size=config.batch_size)
      lit_models[verdicts.verdicts_name(name)] = model
      if getattr(config, "verdict_columns", False):
        share_models.append(model)
    if config.part_columns:
      model = part_shares.PartShareModel(loaded[name], config.max_length)
      lit_models[part_shares.parts_name(name)] = model
      share_models.append(model)
  return share_models


def _generation_model(model) -> model_groups.GenerationModel:
  """The group's GenerationModel under its wrappers (its `responses` and
  response cache serve the evaluation columns too)."""
  while not isinstance(model, model_groups.GenerationModel):
    model = model.wrapped
  return model


def annotators(config, datasets: Mapping[str, Any],
               loaded: Mapping[str, Any]):
  """The annotators LIT runs once per dataset: hygiene, with the first
  loaded Gemma for its model columns if `config.near_duplicate_columns`."""
  lm = (next(iter(loaded.values()), None)
        if config.near_duplicate_columns else None)
  return [hygiene_annotator.HygieneAnnotator(
      hygiene_annotator.eval_datasets(datasets, config.eval_datasets),
      lm=lm, all_datasets=list(datasets.values()))]


def start_workers(share_models, datasets: Mapping[str, Any],
                  gate: gate_lib.Gate = gate_lib.GATE,
                  after: threading.Thread | None = None
                  ) -> list[threading.Thread]:
  """One background thread per part-share model over every dataset's
  examples, after `after` if given."""
  examples = [ex for ds in datasets.values() for ex in ds.examples]
  return [verdicts.start_worker(model, examples, gate, after=after)
          if isinstance(model, verdicts.VerdictModel) else
          part_shares.start_worker(model, examples, gate, after=after)
          for model in share_models]
