"""Keeps TensorFlow out of lit-gemma's process even where it is installed.

keras-hub's metadata requires tensorflow-text, so a plain `pip install`
of lit-gemma (and every Colab runtime) has TensorFlow, and keras-hub and
LIT import it when they can: 1.1 GB of memory and seconds of start for
nothing, since lit-gemma tokenizes with sentencepiece and builds keras-hub
tasks without their TensorFlow preprocessors (models/keras_tasks.py).
`install()` (run when lit_gemma is imported) makes `tensorflow` and
`tensorflow_text` unimportable for imports made by keras-hub, Keras, LIT
and lit-gemma, which then take the same path as without TensorFlow; an
import by anything else (a notebook's own `import tensorflow`) is left
alone. TensorFlow imported before lit_gemma stays as it is.
"""

from __future__ import annotations

import importlib.abc
import sys

BLOCKED = ("tensorflow", "tensorflow_text")
KEPT_OUT_OF = ("keras_hub", "keras", "lit_nlp", "lit_gemma")
_IMPORT_MACHINERY = ("importlib", "_frozen_importlib",
                     "_frozen_importlib_external")


def _importer() -> str:
  """The module whose code is importing (the first frame outside the
  import machinery and this module)."""
  frame = sys._getframe(2)  # pylint: disable=protected-access
  while frame is not None:
    name = frame.f_globals.get("__name__", "")
    if name != __name__ and not name.startswith(_IMPORT_MACHINERY):
      return name
    frame = frame.f_back
  return ""


class _Guard(importlib.abc.MetaPathFinder):
  """Refuses TensorFlow to the packages in KEPT_OUT_OF."""

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    if fullname.partition(".")[0] not in BLOCKED:
      return None
    if _importer().partition(".")[0] in KEPT_OUT_OF:
      raise ModuleNotFoundError(
          f"No module named {fullname!r} (lit-gemma keeps TensorFlow out)",
          name=fullname)
    return None


def install() -> None:
  """Puts the guard first on the import path (once)."""
  if not any(isinstance(f, _Guard) for f in sys.meta_path):
    sys.meta_path.insert(0, _Guard())
