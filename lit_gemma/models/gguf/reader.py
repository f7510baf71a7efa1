"""Reading a GGUF file and refusing a bad one, for every model family.

Why this module exists: the `gguf` package's reader raises many kinds of
errors on bad bytes and gives untyped metadata. Here every failure becomes a
one-line `GGUFError` that names the file, before any model is built:
unreadable or truncated files, missing or per-layer metadata, tensor types
that cannot be dequantized. It knows nothing about any model family.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import numpy as np

from lit_gemma import errors


class GGUFError(errors.UserError):
  """A GGUF file or the model cache cannot be used; the message is one line
  naming the file and what is wrong."""


def fail(path: os.PathLike | str, what: str) -> GGUFError:
  """The error for `path`, message `"{path}: {what}"`."""
  return GGUFError(f"{path}: {what}")


def first_line(e: BaseException) -> str:
  text = str(e).strip().splitlines()
  return text[0] if text else ""


def open_gguf(path: pathlib.Path):
  """Parses the GGUF header (about 10 s for a 262k vocabulary)."""
  import gguf  # pylint: disable=g-import-not-at-top

  if not path.is_file():
    raise fail(path, "no such GGUF file")
  try:
    reader = gguf.GGUFReader(path, "r")
  except Exception as e:  # The reader raises many kinds on bad bytes.
    raise fail(path, f"not a readable GGUF file (corrupt or truncated: "
               f"{type(e).__name__}: {first_line(e)})") from e
  size = path.stat().st_size
  for t in reader.tensors:
    end = int(t.data_offset) + int(t.n_bytes)
    if end > size or t.data.nbytes != int(t.n_bytes):
      raise fail(path, f"truncated GGUF: tensor {t.name} needs bytes up to "
                 f"{end} but the file has {size}")
  return reader


class Meta:
  """Typed access to a GGUF's key/value metadata with file-naming errors.

  `family` names the model in messages ("keras-hub's Gemma 3 needs one
  value").
  """

  def __init__(self, reader, path: pathlib.Path, family: str = "model"):
    self._fields = reader.fields
    self.path = path
    self.family = family

  def has(self, key: str) -> bool:
    return key in self._fields

  def get(self, key: str, default: Any = ...) -> Any:
    field = self._fields.get(key)
    if field is None:
      if default is ...:
        raise fail(self.path, f"metadata key {key} is missing")
      return default
    try:
      return field.contents()
    except Exception as e:
      raise fail(self.path, f"metadata key {key} is unreadable") from e

  def get_int(self, key: str) -> int:
    value = self.get(key)
    if isinstance(value, list):  # Some writers store one value per layer.
      if not value or any(v != value[0] for v in value):
        raise fail(self.path, f"{key} varies per layer ({value}); "
                   f"keras-hub's {self.family} needs one value")
      value = value[0]
    return int(value)


def check_tensor_types(reader, path: pathlib.Path) -> None:
  """Refuses tensor types the gguf package cannot dequantize to floats."""
  import gguf  # pylint: disable=g-import-not-at-top

  verdict: dict[Any, bool] = {}
  for t in reader.tensors:
    qtype = t.tensor_type
    if qtype not in verdict:
      verdict[qtype] = _dequantizable(gguf, qtype)
    if not verdict[qtype]:
      raise fail(path, f"tensor {t.name} has unsupported type {qtype.name}")


def _dequantizable(gguf, qtype) -> bool:
  Q = gguf.GGMLQuantizationType
  if qtype in (Q.F32, Q.F16):
    return True
  if qtype in (Q.F64, Q.I8, Q.I16, Q.I32, Q.I64):
    return False
  block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
  probe = np.zeros((1, type_size), dtype=np.uint8)
  try:
    out = gguf.quants.dequantize(probe, qtype)
  except (NotImplementedError, KeyError, ValueError):
    return False
  return out.size == block_size


def shape(t) -> tuple[int, ...]:
  """A tensor's numpy shape in llama.cpp's row-major (out, in) layout."""
  return tuple(int(d) for d in reversed(t.shape))


def dequantize(t) -> np.ndarray:
  """A tensor as float32 in llama.cpp's row-major (out, in) layout."""
  import gguf  # pylint: disable=g-import-not-at-top

  array = gguf.quants.dequantize(t.data, t.tensor_type)
  return np.asarray(array, dtype=np.float32).reshape(shape(t))
