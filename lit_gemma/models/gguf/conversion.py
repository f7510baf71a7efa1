"""One GGUF file -> one keras-hub preset folder, for any family with a GGUF
mapping (models/families/).

Why this module exists: it ties the parts together in the order that
refuses a bad file cheaply before anything heavy runs: read and check the
header, find the family, map its metadata to a config, check tensor types
and names against the family's table, rebuild the tokenizer, and only then
build the backbone (the family's keras-hub classes), assign the weights and
save the preset. It reports progress as it goes; caching is `cache.py`'s
job.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time
from typing import Callable

from lit_gemma.models import keras_tasks
from lit_gemma.models.gguf import reader
from lit_gemma.models.gguf import registry
from lit_gemma.models.gguf import tokenizer
from lit_gemma.models.gguf import weights

DTYPES = ("float32", "bfloat16")

# (done, total, what): called once per step of a conversion.
Progress = Callable[[int, int, str], None]


class StderrProgress:
  """Prints conversion progress to stderr: an updating line on a terminal,
  otherwise a line per stage and about every 10% of the tensors."""

  def __init__(self, name: str, stream=None):
    self._name = name
    self._stream = stream or sys.stderr
    self._tty = hasattr(self._stream, "isatty") and self._stream.isatty()
    self._start = time.monotonic()
    self._last_label = ""

  def __call__(self, done: int, total: int, what: str) -> None:
    label = what.split(" ", 1)[0]
    step = max(1, total // 10)
    count = f"[{done}/{total}] " if total else ""
    line = (f"lit-gemma: converting {self._name}: {count}{what} "
            f"({time.monotonic() - self._start:.0f}s)")
    if self._tty:
      end = "\n" if done >= total else ""
      self._stream.write("\r\033[K" + line + end)
    elif label != self._last_label or done % step == 0 or done >= total:
      self._stream.write(line + "\n")
    self._last_label = label
    self._stream.flush()


def _no_progress(done: int, total: int, what: str) -> None:
  del done, total, what


def check_dtype(dtype: str, what: os.PathLike | str) -> None:
  if dtype not in DTYPES:
    raise reader.GGUFError(f"{what}: dtype {dtype!r} is not one of {DTYPES}")


def convert(gguf_path: os.PathLike | str, preset_dir: os.PathLike | str,
            dtype: str = "float32",
            progress: Progress | None = None) -> pathlib.Path:
  """Converts a GGUF of a registered family with a GGUF mapping (Gemma 3,
  Gemma 4) into a keras-hub causal-LM preset folder.

  Args:
    gguf_path: the GGUF file.
    preset_dir: folder to write (created; existing files are overwritten).
    dtype: "float32" (default) or "bfloat16" for the saved weights.
    progress: called with (done, total, what) after each step.

  Returns:
    `preset_dir` as a path.

  Raises:
    GGUFError: the file is unreadable, of no registered family, or cannot
      be mapped.
  """
  path = pathlib.Path(gguf_path)
  check_dtype(dtype, path)
  progress = progress or _no_progress
  progress(0, 0, "reading the GGUF header")
  gguf_reader = reader.open_gguf(path)
  family = registry.lookup(reader.Meta(gguf_reader, path), path)
  mapping = family.gguf()
  config = mapping.read_config(reader.Meta(gguf_reader, path, family.name),
                               path)
  reader.check_tensor_types(gguf_reader, path)
  if mapping.with_tensors is not None:  # The table may depend on it.
    config = mapping.with_tensors(
        config, {t.name: t for t in gguf_reader.tensors}, path)
  table = mapping.tensors(config)
  weights.check(gguf_reader.tensors, table, family.name, path)
  total = len(gguf_reader.tensors) + 2
  done = 0
  progress(done, total, "building the backbone")

  def step(what: str) -> None:
    nonlocal done
    done += 1
    progress(done, total, what)

  proto = tokenizer.sentencepiece_proto(gguf_reader, path, mapping.text_tokens)
  classes = family.classes()
  backbone = classes.backbone(**config.backbone_kwargs(dtype))
  weights.load(gguf_reader.tensors, backbone, table, path, step)
  causal_lm = keras_tasks.build(
      classes.task, backbone,
      classes.tokenizer(proto=proto, **mapping.tokenizer_args))
  if (keras_tasks.tokenizer_of(causal_lm).vocabulary_size()
      != backbone.vocabulary_size):
    raise reader.fail(path, "the rebuilt tokenizer's vocabulary size differs "
                      "from the GGUF's")
  step("tokenizer")
  out = pathlib.Path(preset_dir)
  out.mkdir(parents=True, exist_ok=True)
  keras_tasks.save_preset(causal_lm, out)
  step("saved the preset")
  return out
