"""Where lit-gemma keeps what it computes once: converted models, compiled
XLA programs and generated responses.

One root, `$LIT_GEMMA_CACHE` if set, else the user's cache folder, so that a
container build, CI or a user can move or wipe all of it in one place.
"""

import os
import pathlib

CACHE_ENV = "LIT_GEMMA_CACHE"


def cache_root() -> pathlib.Path:
  """The cache root; not created here (callers create what they write)."""
  if os.environ.get(CACHE_ENV):
    return pathlib.Path(os.environ[CACHE_ENV]).expanduser()
  base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
  return pathlib.Path(base) / "lit-gemma"


def models_dir() -> pathlib.Path:
  """Converted keras-hub preset folders (from GGUF files)."""
  return cache_root() / "models"


def jax_cache_dir() -> pathlib.Path:
  """JAX's persistent compilation cache."""
  return cache_root() / "jax"


def responses_dir() -> pathlib.Path:
  """Generated responses, kept across restarts."""
  return cache_root() / "responses"


def hygiene_dir() -> pathlib.Path:
  """Per-model thresholds of the tuning-data review (tuning/calibration.py)."""
  return cache_root() / "hygiene"
