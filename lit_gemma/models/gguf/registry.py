"""The model families lit-gemma converts, by GGUF architecture name.

Why this module exists: the one place that says which llama.cpp
architectures are supported, and the one line that refuses the others
(drafters by name). A new family adds its module's `FAMILY` to `FAMILIES`.
"""

from __future__ import annotations

import pathlib

from lit_gemma.models.gguf import family
from lit_gemma.models.gguf import gemma3
from lit_gemma.models.gguf import gemma4
from lit_gemma.models.gguf import reader

FAMILIES: dict[str, family.Family] = {
    f.architecture: f for f in (gemma3.FAMILY, gemma4.FAMILY)
}
# llama.cpp architectures of drafters: `Gemma4AssistantModel` in
# conversion/gemma.py writes MODEL_ARCH.GEMMA4_ASSISTANT, named
# "gemma4-assistant" in gguf-py's MODEL_ARCH_NAMES.
DRAFTERS = {"gemma4-assistant": "Gemma 4"}


def lookup(meta: reader.Meta, path: pathlib.Path) -> family.Family:
  """The family of the GGUF whose metadata is `meta`, or a one-line
  `GGUFError` naming the file and its architecture."""
  arch = meta.get("general.architecture", None)
  found = FAMILIES.get(arch) if isinstance(arch, str) else None
  if arch in DRAFTERS:
    raise reader.fail(path, f"architecture {arch!r} is a {DRAFTERS[arch]}'s "
                      "speculative-decoding assistant, not a model that runs "
                      "alone; load the model it drafts for")
  if found is None:
    supported = ", ".join(repr(a) for a in FAMILIES)
    raise reader.fail(path, f"architecture {arch!r} is not supported "
                      f"(lit-gemma converts {supported} GGUF files only)")
  return found
