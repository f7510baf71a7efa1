"""The model layer: model sources in, one loaded `GemmaLM` per source out.

Every front end (the server, the notebook, `explain`, the CLI) loads models
here, so that they all refuse a bad source the same way and share what a
load costs:
  1. every source is checked first (`sources.check`: cheap, nothing is
     converted or read), so a bad second source is refused before the
     first one is converted;
  2. each distinct source is then converted (a GGUF, once, into the cache)
     and loaded once, however many names it is served under;
  3. typed `ModelSettings` say how (precision, salience memory, batch sizes).

Importing this module is cheap: Keras and keras-hub are imported (seconds)
only when a model is loaded, so a front end can read its data files and
refuse bad ones first.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from absl import logging

from lit_gemma.models import native_logs

if TYPE_CHECKING:
  from lit_gemma.models import lm as lm_lib

PRECISIONS = ("float32", "bfloat16")
# Most tokens (prompt + target) a request may have unless a front end
# sets its own (--max_length).
DEFAULT_MAX_LENGTH = 1024


@dataclasses.dataclass(frozen=True)
class ModelSettings:
  """How models are loaded and run.

  Attributes:
    precision: weights dtype, "float32" or "bfloat16".
    salience_cache_mb: most memory (MiB) the salience engine keeps for
      recently clicked texts (a fresh call's own included).
    batch_size: most texts per compiled salience call.
    generation_batch_size: most prompts per compiled generation call.
    distribution: "none", or "model_parallel[:N]": weights split over N
      devices (see distribution.py), set before any model loads.
  """

  precision: str = "float32"
  salience_cache_mb: int = 2048
  batch_size: int = 8
  generation_batch_size: int = 16
  distribution: str = "none"


def model_stack():
  """Imports the model code (Keras, keras-hub, JAX: seconds), with the
  native libraries' start-up chatter kept off stderr; returns `lm`."""
  with native_logs.native_chatter_dropped():
    # pylint: disable=g-import-not-at-top
    from lit_gemma.models import lm as lm_lib
    from lit_gemma.salience import compilation
    # pylint: enable=g-import-not-at-top
  compilation.enable_persistent_cache()
  return lm_lib


def load_models(entries: Sequence[tuple[str, str]],
                settings: ModelSettings = ModelSettings(), *,
                lms: Mapping[str, "lm_lib.GemmaLM"] | None = None
                ) -> dict[str, "lm_lib.GemmaLM"]:
  """A `GemmaLM` per (name, source) entry, in order.

  Args:
    entries: (name, source) pairs; a source given twice is loaded once.
    settings: how to load and run them.
    lms: already loaded models by name (a notebook's, a test's), used as
      they are; their sources are not checked again.

  Raises:
    SourceError: a bad source (one line), before anything is converted.
  """
  lm_lib = model_stack()
  from lit_gemma.models import sources  # pylint: disable=g-import-not-at-top

  from lit_gemma.models import distribution  # pylint: disable=g-import-not-at-top
  distribution.apply(settings.distribution)
  lms = dict(lms or {})
  checked = {source: sources.check(source)
             for name, source in entries if name not in lms}
  by_source: dict[str, lm_lib.GemmaLM] = {}
  loaded = {}
  for name, source in entries:
    if name in lms:
      loaded[name] = lms[name]
      continue
    if source not in by_source:
      logging.info("lit-gemma: loading model %s from %s (%s)...", name,
                   source, settings.precision)
      start = time.monotonic()
      by_source[source] = lm_lib.GemmaLM.load(
          checked[source], precision=settings.precision,
          kept_bytes=settings.salience_cache_mb << 20,
          max_batch=settings.batch_size,
          generation_rows=settings.generation_batch_size)
      logging.info("lit-gemma: model %s loaded in %.1f s", name,
                   time.monotonic() - start)
    loaded[name] = by_source[source]
  return loaded


def load_model(source: str, settings: ModelSettings = ModelSettings()
               ) -> "lm_lib.GemmaLM":
  """One model from one source (the notebook's and the CLI's case)."""
  return load_models((("model", source),), settings)["model"]
