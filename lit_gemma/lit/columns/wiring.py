"""The data-table columns beyond the model groups, wired in one place for
`app_builder.build_app`: each Gemma's scoring model (`NAME_scores`), the
opt-in part-share model (`NAME_parts`, `--part_columns`), the hygiene
annotator, and the foreground gate that keeps background work behind the
UI's requests.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, MutableMapping
from typing import Any

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
  for name, _ in config.models:
    lit_models[scoring.scoring_name(name)] = scoring.ScoringModel(
        loaded[name], batch_size=config.batch_size,
        max_length=config.max_length)
    if config.part_columns:
      model = part_shares.PartShareModel(loaded[name], config.max_length)
      lit_models[part_shares.parts_name(name)] = model
      share_models.append(model)
  for name in list(lit_models):
    lit_models[name] = foreground.Foreground(lit_models[name], gate)
  return share_models


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
                  gate: foreground.Gate,
                  after: threading.Thread | None) -> list[threading.Thread]:
  """One background thread per part-share model over every dataset's
  examples, after `after` (the warm-up)."""
  examples = [ex for ds in datasets.values() for ex in ds.examples]
  return [part_shares.start_worker(model, examples, gate, after=after)
          for model in share_models]
