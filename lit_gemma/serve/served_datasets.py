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
from lit_gemma.serve import config as config_lib


def load_datasets(config: config_lib.ServerConfig,
                  chat_format_names: Sequence[str] = (chat_formats.DEFAULT,)
                  ) -> dict[str, lit_dataset.Dataset]:
  """The configured datasets, in order, chat templates rendered in each of
  `chat_format_names`; DataError on bad input."""
  loaded = {}
  for name, path in config.dataset_entries:
    loaded[name] = datasets_lib.load(path, name=name,
                                     max_examples=config.max_examples,
                                     chat_format_names=chat_format_names)
    logging.info("%s: dataset %s: %d examples from %s", config_lib.PROG, name,
                 len(loaded[name]), path)
  return loaded


def for_models(config: config_lib.ServerConfig,
               datasets: dict[str, lit_dataset.Dataset],
               loaded: Mapping[str, Any]) -> dict[str, lit_dataset.Dataset]:
  """`datasets` (rendered in Gemma's chat turns), or loaded again with chat
  prompts rendered in each loaded model's turns where those differ."""
  formats = list(dict.fromkeys(lm.chat_format for lm in loaded.values()))
  if formats != [chat_formats.DEFAULT]:
    return load_datasets(config, formats)
  return datasets
