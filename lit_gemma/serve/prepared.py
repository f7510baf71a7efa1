"""The served datasets' responses, generated ahead of the first visit.

A fresh server's data table asks the generation model for a response to
every example, and on CPU that takes minutes. `prepare` (run by `make
prepare`, `make serve` and the container build) generates them before the
server starts, through the server's own generation model, settings and
minibatches (LIT hands the model the table's examples in order, at most
`generation_batch_size` at a time), into the response cache the server
reads. Its keys (model identity, prompt, generation settings, the weights'
dtype included) mean a changed model, prompt or setting misses and is
generated live: a prepared response is never served stale.

A set prepared once is marked in the cache by a digest of everything it
depends on, so a later `prepare` returns in seconds without loading a model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from lit_gemma.prompts import chat_formats
from lit_gemma.serve import config as config_lib
from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.models import loading
from lit_gemma.serve import served_datasets

# Bump when generation changes what it produces for the same settings.
VERSION = 1


@dataclasses.dataclass(frozen=True)
class Prepared:
  """What `prepare` did.

  Attributes:
    examples: examples of the served datasets.
    generated: responses generated now (the rest were cached, given by the
      dataset, or refused).
    refused: examples the server would refuse (one line each was reported).
    already: every response was known to be cached: no model was loaded.
    seconds: wall time.
  """

  examples: int
  generated: int
  refused: int
  already: bool
  seconds: float


def _examples_digest(datasets: Mapping[str, Any]) -> list:
  """What of each example the generation model reads."""
  return [[name, [[ex.get(fields.PROMPT, ""), ex.get(fields.RESPONSE),
                   ex.get(chat_formats.FIELD)] for ex in ds.examples]]
          for name, ds in datasets.items()]


def preparation_key(config: config_lib.ServerConfig,
                    identities: Mapping[str, str | None],
                    datasets: Mapping[str, Any]) -> str:
  """A digest of every input of the prepared responses: the models'
  identities, the examples (rendered in Gemma's turns; a model with other
  turns has another identity) and the generation settings."""
  settings = {"max_new_tokens": config.max_new_tokens,
              "generation_batch_size": config.generation_batch_size,
              "precision": config.precision,
              "distribution": config.distribution, "version": VERSION}
  models = [[name, identities[name]] for name, _ in config.models]
  return hashlib.sha256(json.dumps(
      [models, settings, _examples_digest(datasets)]).encode()).hexdigest()


def _identities(config, lms) -> dict[str, str | None]:
  """Each model's cache identity, without loading weights."""
  from lit_gemma.models import sources  # pylint: disable=g-import-not-at-top

  found = {}
  for name, source in config.models:
    found[name] = (lms[name].identity if name in lms
                   else sources.resolve(source).identity)
  return found


def _report_to_log(line: str) -> None:
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.info("%s", line)


def prepare(config: config_lib.ServerConfig, *, response_cache=None,
            lms: Mapping[str, Any] | None = None,
            report: Callable[[str], None] = _report_to_log) -> Prepared:
  """Generates and caches the responses `config`'s server would generate
  for its datasets' examples.

  Args:
    config: the server's settings (models, datasets, max_new_tokens,
      generation_batch_size, precision, max_length).
    response_cache: a `ResponseCache`; default: the one under
      $LIT_GEMMA_CACHE (the server's), seeded with the embedded model's
      responses to the bundled sets (lit/response_cache.py), which are then
      not generated again.
    lms: already loaded `GemmaLM`s by model name (tests).
    report: takes one progress line at a time.

  Raises:
    UserError: bad data or model source (one line), as the server would.
  """
  from lit_gemma.lit import response_cache as response_cache_lib  # pylint: disable=g-import-not-at-top
  start = time.monotonic()
  lms = dict(lms or {})
  datasets = served_datasets.load_datasets(config)
  if response_cache is None:  # The server's: the shipped responses too.
    cache = response_cache_lib.ResponseCache()
    cache.seed()
  else:
    cache = response_cache
  key = preparation_key(config, _identities(config, lms), datasets)
  total = sum(len(ds) for ds in datasets.values())
  if cache.is_prepared(key):
    report(f"responses of {total} examples already prepared")
    return Prepared(total, 0, 0, True, time.monotonic() - start)
  loaded = loading.load_models(config.models, config.model_settings, lms=lms)
  datasets = served_datasets.for_models(config, datasets, loaded, cache)
  with _no_programs_written():
    generated, refused = _generate(config, loaded, datasets, cache, report)
  cache.mark_prepared(key)
  return Prepared(total, generated, refused, False, time.monotonic() - start)


@contextlib.contextmanager
def _no_programs_written():
  """Compiled programs are read from JAX's disk cache but none is written:
  a container build must not bake in programs compiled for its own CPU
  (Cloud Run's may differ); the server writes its own."""
  import jax  # pylint: disable=g-import-not-at-top

  option = "jax_persistent_cache_min_compile_time_secs"
  saved = getattr(jax.config, option)
  jax.config.update(option, float("inf"))
  try:
    yield
  finally:
    jax.config.update(option, saved)


def _generate(config, loaded, datasets, cache, report) -> tuple[int, int]:
  """(responses generated, examples refused) for every distinct model."""
  from lit_gemma.lit import model_groups as models_lib  # pylint: disable=g-import-not-at-top

  settings = models_lib.GroupSettings.from_config(config, embeddings=False)
  generated = refused = 0
  seen = set()
  for name, _ in config.models:
    lm = loaded[name]
    if id(lm) in seen or not lm.identity:  # In memory: nothing to keep.
      continue
    seen.add(id(lm))
    model = models_lib.GenerationModel(lm, settings, cache)
    size = model.max_minibatch_size()
    for dataset_name, dataset in datasets.items():
      rows = list(dataset.examples)
      before, begun = len(cache), time.monotonic()
      for first in range(0, len(rows), size):
        batch = rows[first : first + size]
        try:
          model.predict_minibatch(batch)
        except errors.RequestError as e:  # The server refuses these too.
          refused += len(batch)
          report(f"{name}/{dataset_name}: examples {first}-"
                 f"{first + len(batch) - 1} not prepared: {e}")
        report(f"{name}/{dataset_name}: {first + len(batch)}/{len(rows)} "
               f"responses ({len(cache) - before} generated, "
               f"{time.monotonic() - begun:.0f} s)")
      generated += len(cache) - before
  return generated, refused
