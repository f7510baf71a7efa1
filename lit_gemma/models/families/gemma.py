"""Gemma 1 and Gemma 2 (keras-hub's `GemmaBackbone`).

Why this module exists: the family's record (see record.py). Gemma 2 is the
same backbone class with soft-caps and alternating sliding windows, so one
record serves both.
"""

from __future__ import annotations

from lit_gemma.models.families import record
from lit_gemma.models.memory_estimates import Size

_M = record.MODEL
_ = None

# Query [H, d, h], attention output [H, h, d], gate/up [d, F], down [F, d],
# table [V, d]; paths read from real keras-hub backbones
# (`backbone.weights`). Gemma 3's backbone has the same paths.
SHARDING: record.Rules = (
    (r"token_embedding/embeddings", (_M, _)),
    (r".*attention/query/kernel", (_M, _, _)),
    (r".*attention/attention_output/kernel", (_M, _, _)),
    (r".*ffw_gating(_2)?/kernel", (_, _M)),
    (r".*ffw_linear/kernel", (_M, _)),
)

# Gemma 2: keras-hub preset configs (no q/k norms).
SIZES = (
    Size("gemma2_2b", 256000, 2304, 26, 8, 4, 256, 9216, qk_norm=False),
    Size("gemma2_9b", 256000, 3584, 42, 16, 8, 256, 14336, qk_norm=False),
    Size("gemma2_27b", 256000, 4608, 46, 32, 16, 128, 36864, qk_norm=False),
)


def keras_classes() -> record.KerasClasses:
  import keras_hub  # pylint: disable=g-import-not-at-top

  m = keras_hub.models
  return record.KerasClasses(m.GemmaBackbone, m.GemmaTokenizer,
                             m.GemmaCausalLM)


def forward() -> type:
  from lit_gemma.salience import forward as forward_lib  # pylint: disable=g-import-not-at-top

  return forward_lib.GemmaForward


FAMILY = record.Family(
    name="Gemma / Gemma 2",
    backbone="GemmaBackbone",
    keras_classes=keras_classes,
    forward=forward,
    preset_folders=("gemma",),
    sharding=SHARDING,
    sizes=SIZES,
    context_lengths=(("gemma2", 8192),),
)
