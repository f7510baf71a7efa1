"""What a model family must say for its GGUF files to be converted.

Why this module exists: the reader, weights, tokenizer and cache code is the
same for every family; what differs is a mapping. A family module (such as
`gemma3.py`) fills in one `Family` and `registry.py` lists it under its
llama.cpp architecture name. Adding a family means writing that mapping,
not copying the converter.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable

from lit_gemma.models.gguf import reader
from lit_gemma.models.gguf import weights


@dataclasses.dataclass(frozen=True)
class Family:
  """One model family's GGUF -> keras-hub mapping.

  Attributes:
    architecture: the GGUF's `general.architecture` (llama.cpp's name).
    name: the family in messages, as keras-hub calls it ("Gemma 3").
    read_config: (metadata, path) -> the family's config object; refuses,
      with `reader.fail`, whatever keras-hub's model cannot express.
    tensors: config -> every tensor the file must hold, by GGUF name, each
      with its shape, backbone variable and transform (llama.cpp's norm
      offset included); see `weights.Tensor`.
    backbone: (config, dtype) -> the keras-hub backbone, weights unset.
    causal_lm: (backbone, SentencePiece proto) -> the keras-hub causal LM
      with its tokenizer (tasks.build: no preprocessor).
    text_tokens: pieces of the vocabulary that must be matched in text
      (chat turn markers): made USER_DEFINED in the rebuilt tokenizer.
    with_tensors: (config, tensors by GGUF name, path) -> config, for what
      only the tensors say (Gemma 4's partial RoPE lives in `rope_freqs`,
      K=V layers have no `attn_v`); called before `tensors`, so it checks
      what it reads itself. None: the metadata says everything.
  """

  architecture: str
  name: str
  read_config: Callable[[reader.Meta, pathlib.Path], Any]
  tensors: Callable[[Any], dict[str, weights.Tensor]]
  backbone: Callable[[Any, str], Any]
  causal_lm: Callable[[Any, bytes], Any]
  text_tokens: tuple[str, ...] = ()
  with_tensors: Callable[[Any, dict, pathlib.Path], Any] | None = None
