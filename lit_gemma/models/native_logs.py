"""Keeps the native libraries' start-up chatter out of the user's terminal.

TensorFlow's and XLA's native code write INFO lines straight to file
descriptor 2 while they are imported (absl C++ logging before it is
initialized), where Python's logging cannot filter them. A user starting
the server or a notebook cell should see lit-gemma's lines and real
warnings, not that.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator


# TensorFlow (keras-hub's tokenizers use it, on CPU) also reports that it
# found no CUDA driver: noise, since the models run on JAX. SentencePiece
# says the Gemma tokenizer has no normalizer (it has none by design).
_NATIVE_CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I0000 00:00:"
    r"|E0000 00:00:\S+ +\d+ cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|normalizer\.cc\(\d+\) LOG\(INFO\) precompiled_charsmap is empty)")


@contextlib.contextmanager
def native_chatter_dropped() -> Iterator[None]:
  """Drops the INFO lines that TensorFlow's and XLA's native code write
  straight to file descriptor 2 while they are imported (absl C++ logging
  before it is initialized); every other line is passed on."""
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError):  # No real stderr (some notebooks).
    yield
    return
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      for line in capture.read().decode(errors="replace").splitlines(True):
        if not _NATIVE_CHATTER.match(line):
          sys.stderr.write(line)
      sys.stderr.flush()
