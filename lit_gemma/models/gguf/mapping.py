"""What a model family must say for its GGUF files to be converted.

Why this module exists: the reader, weights, tokenizer, cache and the
building of the keras-hub task (from the family's record, models/families/)
are the same for every family; what differs is a mapping. A GGUF module
(such as `gemma3.py`) fills in one `GGUFMapping`, and the family's record
points at it. Adding a family's GGUF support means writing that mapping,
not copying the converter.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable

from lit_gemma.models.gguf import reader
from lit_gemma.models.gguf import weights


@dataclasses.dataclass(frozen=True)
class GGUFMapping:
  """One model family's GGUF -> keras-hub mapping.

  Attributes:
    architecture: the GGUF's `general.architecture` (llama.cpp's name).
    read_config: (metadata, path) -> the family's config object, whose
      `backbone_kwargs(dtype)` are the backbone's arguments; refuses, with
      `reader.fail`, whatever keras-hub's model cannot express.
    tensors: config -> every tensor the file must hold, by GGUF name, each
      with its shape, backbone variable and transform (llama.cpp's norm
      offset included); see `weights.Tensor`.
    tokenizer_args: the keras-hub tokenizer's arguments beside the proto
      (text only: no vision or audio tokens).
    text_tokens: pieces of the vocabulary that must be matched in text
      (chat turn markers): made USER_DEFINED in the rebuilt tokenizer.
    with_tensors: (config, tensors by GGUF name, path) -> config, for what
      only the tensors say (Gemma 4's partial RoPE lives in `rope_freqs`,
      K=V layers have no `attn_v`); called before `tensors`, so it checks
      what it reads itself. None: the metadata says everything.
    drafters: llama.cpp architectures of this family's speculative-decoding
      drafters, refused by name (they never run alone).
  """

  architecture: str
  read_config: Callable[[reader.Meta, pathlib.Path], Any]
  tensors: Callable[[Any], dict[str, weights.Tensor]]
  tokenizer_args: dict[str, Any] = dataclasses.field(default_factory=dict)
  text_tokens: tuple[str, ...] = ()
  with_tensors: Callable[[Any, dict, pathlib.Path], Any] | None = None
  drafters: tuple[str, ...] = ()
