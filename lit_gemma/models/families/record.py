"""What lit-gemma knows about one Gemma family, in one record.

Why this module exists: loading, chat prompts, sharding, salience, GGUF
conversion and memory planning each need a fact about a family; each reads
it from the family's `Family` record instead of keeping a table of its own.
A record is cheap to import (no Keras, no JAX): what needs keras-hub or the
engine is reached through functions that import it when called, so the
server's settings and the memory plan read records before anything heavy
loads.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, NamedTuple

from lit_gemma.models.memory_estimates import Size
from lit_gemma.prompts import chat_formats

# The device-mesh axis weights are split over (models/sharding.py).
MODEL = "model"
# Sharding rules: (path regex, one axis name or None per weight axis),
# matched with `re.fullmatch` as `keras.distribution.LayoutMap` does.
Rules = tuple[tuple[str, tuple[str | None, ...]], ...]


class KerasClasses(NamedTuple):
  """A family's keras-hub classes: a preset folder loads through these."""

  backbone: type
  tokenizer: type
  task: type


@dataclasses.dataclass(frozen=True)
class Family:
  """One Gemma family, as every part of lit-gemma needs it.

  Attributes:
    name: the family in messages ("Gemma 3").
    backbone: its backbone's class name, as a preset's config.json names it
      ("Gemma3Backbone"): how a folder or a loaded model finds its family.
    keras_classes: () -> its `KerasClasses` (imports keras-hub).
    forward: () -> its salience forward class (a `salience.forward.Forward`;
      imports the engine).
    preset_folders: keras-hub's preset registry folders ("path" in a
      preset's metadata) whose presets are this family's.
    encoder_args: backbone arguments holding a multimodal model's encoders:
      set to None on load, so the text model loads alone.
    refusal: (preset name or None, backbone config) -> why this family
      refuses a preset that keras-hub would load (one line), or None.
      Called with the name alone when a source is checked, with the config
      alone when it loads.
    chat_format: the name of its chat turn format (prompts/chat_formats.py).
    sharding: its rules for `--distribution` (models/sharding.py); weights
      no rule names are replicated.
    sizes: its models' shapes, for the memory figures
      (models/memory_estimates.py).
    context_lengths: (preset-name prefix, tokens) pairs, most specific
      first: how many tokens each size reads.
    gguf: () -> its GGUF mapping (models/gguf/mapping.py), or None if
      lit-gemma does not convert its GGUF files.
  """

  name: str
  backbone: str
  keras_classes: Callable[[], KerasClasses]
  forward: Callable[[], type]
  preset_folders: tuple[str, ...] = ()
  encoder_args: tuple[str, ...] = ()
  refusal: Callable[[str | None, Mapping[str, Any]], str | None] | None = None
  chat_format: str = chat_formats.DEFAULT
  sharding: Rules = ()
  sizes: tuple[Size, ...] = ()
  context_lengths: tuple[tuple[str, int], ...] = ()
  gguf: Callable[[], Any] | None = None

  def refuses(self, preset: str | None = None,
              config: Mapping[str, Any] | None = None) -> str | None:
    """Why this family refuses a preset (by name or config), or None."""
    if self.refusal is None:
      return None
    return self.refusal(preset, config or {})

  def classes(self) -> KerasClasses:
    """Its keras-hub classes; a ValueError if the backbone's name is not
    the one the record gives (a folder would never find it)."""
    classes = self.keras_classes()
    if classes.backbone.__name__ != self.backbone:
      raise ValueError(f"family {self.name!r} names {self.backbone} but "
                       f"its backbone class is {classes.backbone.__name__}")
    return classes
