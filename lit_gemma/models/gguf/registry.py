"""Which model family a GGUF file is, by its llama.cpp architecture name.

Why this module exists: the one place that finds a file's family among the
registered ones (models/families/: those whose record has a GGUF mapping),
and the one line that refuses the others (drafters by name).
"""

from __future__ import annotations

import pathlib

from lit_gemma.models import families
from lit_gemma.models.gguf import reader


def architectures() -> dict[str, families.Family]:
  """The families lit-gemma converts, by GGUF architecture name."""
  return {family.gguf().architecture: family
          for family in families.with_gguf()}


def lookup(meta: reader.Meta, path: pathlib.Path) -> families.Family:
  """The family of the GGUF whose metadata is `meta`, or a one-line
  `GGUFError` naming the file and its architecture."""
  arch = meta.get("general.architecture", None)
  known = architectures()
  for family in known.values():
    if arch in family.gguf().drafters:
      raise reader.fail(path, f"architecture {arch!r} is a {family.name}'s "
                        "speculative-decoding assistant, not a model that "
                        "runs alone; load the model it drafts for")
  found = known.get(arch) if isinstance(arch, str) else None
  if found is None:
    supported = ", ".join(repr(a) for a in known)
    raise reader.fail(path, f"architecture {arch!r} is not supported "
                      f"(lit-gemma converts {supported} GGUF files only)")
  return found
