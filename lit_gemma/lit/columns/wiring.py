"""The data-table columns beyond the model groups, wired in one place for
`app_builder.build_app`: each Gemma's scoring model (`NAME_scores`) and
evaluation model (`NAME_eval`), the change between checkpoints
(`AFTER_vs_BEFORE`, for every model after the first), the opt-in
part-share model (`NAME_parts`, `--part_columns`), the hygiene annotator,
and the foreground gate that keeps background work behind the UI's
requests.
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
from lit_gemma.lit.columns import foreground
from lit_gemma.lit.columns import scoring


def add_models(config, loaded: Mapping[str, Any],
               lit_models: MutableMapping[str, Any],
               gate: foreground.Gate) -> list[part_shares.PartShareModel]:
  """Adds the scoring (and, opted in, part-share) models of every group to
  `lit_models` and wraps every model in `priority.Foreground`; returns the
  part-share models, for `start_workers`."""
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
    if config.part_columns:
      model = part_shares.PartShareModel(loaded[name], config.max_length)
      lit_models[part_shares.parts_name(name)] = model
      share_models.append(model)
  for name in list(lit_models):
    lit_models[name] = foreground.Foreground(lit_models[name], gate)
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
  loaded Gemma for near duplicates if `config.near_duplicate_columns`."""
  lm = (next(iter(loaded.values()), None)
        if config.near_duplicate_columns else None)
  return [hygiene_annotator.HygieneAnnotator(
      hygiene_annotator.eval_datasets(datasets), lm=lm)]


def start_workers(share_models, datasets: Mapping[str, Any],
                  gate: foreground.Gate,
                  after: threading.Thread | None) -> list[threading.Thread]:
  """One background thread per part-share model over every dataset's
  examples, after `after` (the warm-up)."""
  examples = [ex for ds in datasets.values() for ex in ds.examples]
  return [part_shares.start_worker(model, examples, gate, after=after)
          for model in share_models]
