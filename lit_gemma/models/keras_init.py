"""Keras' one override: skip random initial weights while a preset loads.

Written for keras 3.15.1 (`VERSIONS`); tests/models/test_keras_init.py fails
when the installed version differs or the patched method is gone. Kept out
of the LIT internals so that loading weights imports nothing of LIT.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

VERSIONS = {"keras": "3.15.1"}

_INIT_LOCK = threading.Lock()


@contextlib.contextmanager
def skipping_random_init() -> Iterator[None]:
  """Keras' random initializers yield zeros inside this block.

  keras-hub builds every layer with random weights and then loads the preset
  over them; for Gemma's 262k-row embedding the random draws are about half
  of a warm load on CPU. Gemma only uses the VarianceScaling family (Glorot
  included). Loading still fails if the preset lacks any weight, so a zero
  never survives into a loaded model. Process-wide while it lasts: loads are
  serialized by a lock.
  """
  import keras  # pylint: disable=g-import-not-at-top  (seconds; only here)

  cls = keras.initializers.VarianceScaling
  with _INIT_LOCK:
    original = cls.__call__
    cls.__call__ = lambda self, shape, dtype=None: keras.ops.zeros(
        shape, dtype=dtype)
    try:
      yield
    finally:
      cls.__call__ = original
