"""The Gemma families lit-gemma serves: one record each, registered here.

Why this package exists: a family's facts (keras-hub classes, chat format,
sharding rules, salience forward, GGUF mapping, memory figures) live in one
record (`record.Family`) in one module; every consumer asks this registry.
Adding a family is its module plus one line in `_BUILT_IN`. Importing this
package is cheap (no Keras, no JAX).
"""

from __future__ import annotations

from lit_gemma.models.families import gemma
from lit_gemma.models.families import gemma3
from lit_gemma.models.families import gemma3n
from lit_gemma.models.families import gemma4
from lit_gemma.models.families import record
from lit_gemma.models.memory_estimates import Size

Family = record.Family

# By backbone class name, in the order messages list them.
_REGISTERED: dict[str, Family] = {}
_BUILT_IN = (gemma.FAMILY, gemma3.FAMILY, gemma3n.FAMILY, gemma4.FAMILY)


def register(family: Family) -> Family:
  """Makes `family` known to every consumer; a ValueError if another
  family already claims its backbone class."""
  if _REGISTERED.get(family.backbone, family) is not family:
    raise ValueError(f"{family.backbone} is already the backbone of "
                     f"{_REGISTERED[family.backbone].name!r}")
  _REGISTERED[family.backbone] = family
  return family


for _family in _BUILT_IN:
  register(_family)


def registered() -> tuple[Family, ...]:
  """Every registered family, in registration order."""
  return tuple(_REGISTERED.values())


def by_backbone_name(class_name: str) -> Family | None:
  """The family whose backbone class is called `class_name`, or None."""
  return _REGISTERED.get(class_name)


def of_backbone(backbone) -> Family | None:
  """The family of a loaded backbone (its class, else the nearest base
  class a family names), or None."""
  for cls in type(backbone).__mro__:
    if cls.__name__ in _REGISTERED:
      return _REGISTERED[cls.__name__]
  return None


def by_preset_folder(folder: str | None) -> Family | None:
  """The family of keras-hub's presets in registry folder `folder`."""
  return next((f for f in _REGISTERED.values()
               if folder in f.preset_folders), None)


def with_gguf() -> tuple[Family, ...]:
  """The families whose GGUF files lit-gemma converts."""
  return tuple(f for f in _REGISTERED.values() if f.gguf is not None)


def sizes() -> tuple[Size, ...]:
  """Every family's model sizes, family by family."""
  return tuple(s for family in _REGISTERED.values() for s in family.sizes)


def context_length(size_name: str) -> int | None:
  """How many tokens the size called `size_name` reads, or None."""
  for family in _REGISTERED.values():
    for prefix, tokens in family.context_lengths:
      if size_name.startswith(prefix):
        return tokens
  return None


def register_forwards() -> None:
  """Hands each family's forward pass to the salience engine, for its
  backbone class (imports keras-hub and JAX). Cheap when repeated: the
  model layer calls it before it loads a model or builds an engine."""
  from lit_gemma.salience import forward as forward_lib  # pylint: disable=g-import-not-at-top

  for family in _REGISTERED.values():
    forward_lib.register(family.classes().backbone)(family.forward())
