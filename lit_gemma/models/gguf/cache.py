"""The converted-model cache: one preset folder per GGUF sha256, published
atomically.

Why this module exists: converting a GGUF takes tens of seconds, so it runs
once and later starts only load the preset folder. The folder lives under
`paths.models_dir()`, named by the GGUF's sha256, the dtype and
`CONVERTER_VERSION`; the sha256 of a file is itself remembered by (path,
size, mtime) so warm starts never read the GGUF.

Protocol: a conversion writes into a temporary folder beside the final one,
syncs it, writes the marker file last, then renames the folder into place.
A folder counts as valid only when its marker exists. Two processes racing
both convert; the loser of the rename discards its copy and uses the
winner's. Temporary folders a killed conversion left are removed after six
hours.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import tempfile
import time
from typing import Callable

from lit_gemma import paths
from lit_gemma.models.gguf import conversion
from lit_gemma.models.gguf import reader

# Bump when the conversion's output changes, so stale caches are not reused.
CONVERTER_VERSION = 1
MARKER = "lit_gemma_converted.json"
# Every preset folder starts with this (it predates other families: kept so
# that existing caches stay valid; the sha256 alone identifies the file).
_FOLDER_PREFIX = "gemma3-gguf"
_STALE_TMP_SECONDS = 6 * 3600


def sha256_file(path: os.PathLike | str) -> str:
  """Hex sha256 of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    while block := f.read(1 << 22):
      digest.update(block)
  return digest.hexdigest()


def _cached_sha256(path: pathlib.Path) -> str:
  """sha256 of a GGUF, remembered by (real path, size, mtime) so a warm
  start only stats the file instead of reading it."""
  try:
    stat = path.stat()
  except OSError as e:
    raise reader.fail(path, f"cannot read the GGUF file ({e.strerror})") from e
  key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
  index = paths.models_dir() / "sha256" / hashlib.sha256(
      key.encode()).hexdigest()[:32]
  try:
    recorded = index.read_text().split()
    if len(recorded) == 1 and len(recorded[0]) == 64:
      return recorded[0]
  except OSError:
    pass
  try:
    sha = sha256_file(path)
  except OSError as e:
    raise reader.fail(path, f"cannot read the GGUF file ({e.strerror})") from e
  try:  # Best effort: an unwritable cache is reported by the conversion.
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(f".{index.name}.{os.getpid()}")
    tmp.write_text(sha + "\n")
    os.replace(tmp, index)
  except OSError:
    pass
  return sha


def preset_dir_for(sha256: str, dtype: str = "float32") -> pathlib.Path:
  """Where the preset converted from a GGUF with this sha256 lives."""
  return paths.models_dir() / (
      f"{_FOLDER_PREFIX}-{sha256[:16]}-{dtype}-v{CONVERTER_VERSION}")


def is_valid_preset(preset: os.PathLike | str) -> bool:
  """True when a cached preset folder is complete (its marker exists)."""
  return (pathlib.Path(preset) / MARKER).is_file()


def writable_root(root: pathlib.Path) -> None:
  """Creates the cache folder or refuses, naming the variable to set."""
  try:
    root.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise reader.GGUFError(
        f"{root}: cannot create the model cache ({e.strerror}); "
        f"set {paths.CACHE_ENV} to a writable folder") from e
  if not os.access(root, os.W_OK | os.X_OK):
    raise reader.GGUFError(f"{root}: the model cache is not writable; "
                           f"set {paths.CACHE_ENV} to a writable folder")


def _remove_stale_temps(root: pathlib.Path, final: pathlib.Path) -> None:
  """Deletes temp folders that a killed conversion left long ago."""
  now = time.time()
  for tmp in root.glob(f".{final.name}.tmp-*"):
    try:
      if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
        shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
      pass


def convert_into_cache(sha: str, locate: Callable[[], pathlib.Path],
                       dtype: str,
                       progress: conversion.Progress | None) -> pathlib.Path:
  """The valid preset folder for `sha`, converting the GGUF that `locate`
  returns (called only when the folder is not cached yet)."""
  final = preset_dir_for(sha, dtype)
  if is_valid_preset(final):
    return final
  root = final.parent
  writable_root(root)
  _remove_stale_temps(root, final)
  try:
    tmp = pathlib.Path(tempfile.mkdtemp(
        prefix=f".{final.name}.tmp-{os.getpid()}-", dir=root))
  except OSError as e:
    raise reader.GGUFError(f"{root}: cannot write to the model cache "
                           f"({e.strerror}); set {paths.CACHE_ENV} to a "
                           "writable folder") from e
  try:
    source = locate()
    if progress is None:
      progress = conversion.StderrProgress(source.name)
    conversion.convert(source, tmp, dtype=dtype, progress=progress)
    _sync_files(tmp)  # The marker must never outlive lost weights.
    marker = {"converter_version": CONVERTER_VERSION, "sha256": sha,
              "source": str(source), "dtype": dtype,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    _publish(tmp, final)
  except OSError as e:
    raise reader.GGUFError(f"{final}: writing the converted model failed "
                           f"({e.strerror or e}); nothing was cached") from e
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return final


def _sync_files(folder: pathlib.Path) -> None:
  for path in folder.rglob("*"):
    if path.is_file():
      with open(path, "rb") as f:
        os.fsync(f.fileno())


def _publish(tmp: pathlib.Path, final: pathlib.Path) -> None:
  """Renames `tmp` to `final`; if another process won, keeps the winner's."""
  for _ in range(3):
    try:
      os.rename(tmp, final)
      return
    except OSError:
      if is_valid_preset(final):
        return  # Lost the race to a complete copy: the caller drops ours.
      if not final.exists():
        continue
      # An incomplete folder (not ours: ours appear only complete): move it
      # aside atomically, then delete it.
      trash = final.with_name(f".{final.name}.tmp-trash-{os.getpid()}")
      try:
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
      except OSError:
        pass
  raise reader.GGUFError(f"{final}: could not move the converted model into "
                         "place")


def cached_preset(gguf_path: os.PathLike | str, dtype: str = "float32",
                  progress: conversion.Progress | None = None) -> pathlib.Path:
  """The keras-hub preset folder for a GGUF, converting it on first use.

  The folder is keyed by the file's sha256 (remembered by path, size and
  mtime, so warm starts do not hash the file) and the converter version.
  Progress goes to stderr unless `progress` is given.
  """
  path = pathlib.Path(gguf_path).expanduser()
  conversion.check_dtype(dtype, path)
  if not path.is_file():
    raise reader.fail(path, "no such GGUF file")
  sha = _cached_sha256(path)
  return convert_into_cache(sha, lambda: path, dtype, progress)
