"""The datasets a server serves, read before any model is loaded (a bad
file is refused in a second or two) and rendered in each loaded model's
chat turns. Light to import: `prepare` checks its prepared responses with
these alone, without LIT's app or the model stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from absl import logging
from lit_nlp.api import dataset as lit_dataset

from lit_gemma.lit import datasets as datasets_lib
from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import template_files
from lit_gemma.serve import config as config_lib


def load_datasets(config: config_lib.ServerConfig,
                  chat_format_names: Sequence[str] = (chat_formats.DEFAULT,),
                  classify=None) -> dict[str, lit_dataset.Dataset]:
  """The configured datasets, in order, chat templates rendered in each of
  `chat_format_names`, dynamic templates routed by `classify` (None:
  unclassified); DataError on bad input."""
  loaded = {}
  for name, path in config.dataset_entries:
    loaded[name] = datasets_lib.load(path, name=name,
                                     max_examples=config.max_examples,
                                     chat_format_names=chat_format_names,
                                     classify=classify)
    logging.info("%s: dataset %s: %d examples from %s", config_lib.PROG, name,
                 len(loaded[name]), path)
  return loaded


def for_models(config: config_lib.ServerConfig,
               datasets: dict[str, lit_dataset.Dataset],
               loaded: Mapping[str, Any],
               response_cache=None) -> dict[str, lit_dataset.Dataset]:
  """`datasets` (rendered in Gemma's chat turns), or loaded again with chat
  prompts rendered in each loaded model's turns where those differ, and
  dynamic templates routed by the first model's answers (its classifier's
  labels kept in `response_cache`)."""
  formats = list(dict.fromkeys(lm.chat_format for lm in loaded.values()))
  classify = None
  if loaded and any(template_files.classifies(path)
                    for _, path in config.dataset_entries):
    from lit_gemma.evaluation import routing  # pylint: disable=g-import-not-at-top
    classify = routing.Classifier(loaded[config.models[0][0]],
                                  response_cache, config.max_length)
  if formats != [chat_formats.DEFAULT] or classify is not None:
    return load_datasets(config, formats, classify)
  return datasets
