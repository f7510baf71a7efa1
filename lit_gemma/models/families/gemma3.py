"""Gemma 3 (keras-hub's `Gemma3Backbone`), text only.

Why this module exists: the family's record (see record.py): the 270M the
package embeds, its GGUF mapping, its sizes.
"""

from __future__ import annotations

from lit_gemma.models.families import gemma
from lit_gemma.models.families import record
from lit_gemma.models.memory_estimates import Size

# keras-hub preset configs (text backbones; the multimodal presets' 64
# extra vision-token rows are not counted).
SIZES = (
    Size("gemma3_270m", 262144, 640, 18, 4, 1, 256, 2048),
    Size("gemma3_1b", 262144, 1152, 26, 4, 1, 256, 6912),
    Size("gemma3_4b", 262144, 2560, 34, 8, 4, 256, 10240),
    Size("gemma3_12b", 262144, 3840, 48, 16, 8, 256, 15360),
    Size("gemma3_27b", 262144, 5376, 62, 32, 16, 128, 21504),
)
# keras-hub 0.32 preset metadata "params" of the text presets, to check
# the arithmetic against.
KERAS_HUB_PARAMS = {
    "gemma3_270m": 268_098_176, "gemma3_1b": 999_885_952,
    "gemma3_4b": 3_880_099_328, "gemma3_12b": 11_765_788_416,
    "gemma3_27b": 27_009_002_240,
}


def keras_classes() -> record.KerasClasses:
  import keras_hub  # pylint: disable=g-import-not-at-top

  m = keras_hub.models
  return record.KerasClasses(m.Gemma3Backbone, m.Gemma3Tokenizer,
                             m.Gemma3CausalLM)


def gguf():
  from lit_gemma.models.gguf import gemma3 as mapping  # pylint: disable=g-import-not-at-top

  return mapping.MAPPING


FAMILY = record.Family(
    name="Gemma 3",
    backbone="Gemma3Backbone",
    keras_classes=keras_classes,
    forward=gemma.forward,  # Gemma 1-3 run the same forward pass
    preset_folders=("gemma3",),
    encoder_args=("vision_encoder",),
    sharding=gemma.SHARDING,
    sizes=SIZES,
    # Gemma 3 270M and 1B read 32k tokens, the larger ones 128k.
    context_lengths=(("gemma3_270m", 32768), ("gemma3_1b", 32768),
                     ("gemma3", 131072)),
    gguf=gguf,
)
