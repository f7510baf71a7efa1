"""Gemma 3n (keras-hub's `Gemma3nBackbone`), text only.

Why this module exists: the family's record (see record.py). Its weights
sit under `text_model/` with heads flattened, so it has its own sharding
rules and its own forward pass (salience/gemma3n.py).
"""

from __future__ import annotations

from lit_gemma.models.families import record

_M = record.MODEL
_ = None

# q [d, H*h] and o [H*h, d] (heads flattened); feed-forward gate/up [d, F],
# down [F, d]; the main and per-layer token tables [V, *].
SHARDING: record.Rules = (
    (r"text_model/embed_tokens/embedding/embeddings", (_M, _)),
    (r"text_model/embed_tokens_per_layer/embedding/embeddings", (_M, _)),
    (r".*attention/q_proj/kernel", (_, _M)),
    (r".*attention/o_proj/kernel", (_M, _)),
    (r".*mlp/(gate_proj|up_proj)/kernel", (_, _M)),
    (r".*mlp/down_proj/kernel", (_M, _)),
)


def keras_classes() -> record.KerasClasses:
  import keras_hub  # pylint: disable=g-import-not-at-top

  m = keras_hub.models
  return record.KerasClasses(m.Gemma3nBackbone, m.Gemma3nTokenizer,
                             m.Gemma3nCausalLM)


def forward() -> type:
  from lit_gemma.salience import gemma3n  # pylint: disable=g-import-not-at-top

  return gemma3n.Gemma3nForward


FAMILY = record.Family(
    name="Gemma 3n",
    backbone="Gemma3nBackbone",
    keras_classes=keras_classes,
    forward=forward,
    preset_folders=("gemma3n",),
    encoder_args=("vision_encoder_config", "audio_encoder_config"),
    sharding=SHARDING,
)
