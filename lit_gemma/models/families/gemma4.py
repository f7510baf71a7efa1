"""Gemma 4 (keras-hub's `Gemma4Backbone`), text only: dense, E models and
mixture of experts.

Why this module exists: the family's record (see record.py). Gemma 4 speaks
its own chat turn markers, refuses its speculative-decoding "assistant"
drafters, shards its per-layer token table and expert bank, and has its own
forward pass (salience/gemma4.py) and GGUF mapping (models/gguf/gemma4.py).
"""

from __future__ import annotations

from typing import Any, Mapping

from lit_gemma.models.families import gemma
from lit_gemma.models.families import record
from lit_gemma.models.memory_estimates import Size
from lit_gemma.prompts import chat_formats

_M = record.MODEL
_ = None

ASSISTANT = (
    "is a Gemma 4 speculative-decoding assistant (a drafter that shares K/V "
    "with a target model in every layer and must not run alone); load its "
    "target model instead, such as gemma4_instruct_2b"
)

# Gemma's paths, plus the per-layer token table [V, layers * p] of the E
# models and the expert bank [E, ...] of the MoE models (its router and
# per-dimension scales stay replicated).
SHARDING: record.Rules = gemma.SHARDING + (
    (r"per_layer_token_embedding/embeddings", (_M, _)),
    (r".*moe_expert_bank/(gate_proj|up_proj|down_proj)", (_M, _, _)),
    (r".*moe_expert_bank/per_expert_scale", (_M,)),
)

# Parameter counts from keras-hub 0.32's preset metadata (vision and audio
# encoders included, so an upper bound for text); the shapes used for
# activations are estimates, not read from a config.
_NOTE = "params: keras-hub metadata; shape estimated"
SIZES = (
    Size("gemma4_2b (E2B)", 262144, 1536, 35, 8, 1, 256, 6144,
         per_layer_dim=256, params=5_100_000_000, exact=False, note=_NOTE),
    Size("gemma4_4b (E4B)", 262144, 2560, 42, 8, 2, 256, 10240,
         per_layer_dim=256, params=7_900_000_000, exact=False, note=_NOTE),
    Size("gemma4_26b_a4b", 262144, 2816, 30, 16, 8, 256, 2112 * 8,
         params=26_000_000_000, exact=False, note=_NOTE),
    Size("gemma4_31b", 262144, 5376, 60, 32, 16, 256, 21504,
         params=31_000_000_000, exact=False, note=_NOTE),
)


def refusal(preset: str | None, config: Mapping[str, Any]) -> str | None:
  """Drafters: by preset name, or by a config whose every layer shares K/V."""
  shared = config.get("num_kv_shared_layers") or 0
  if (preset or "").endswith("_assistant") or (
      shared >= config.get("num_layers", 0) > 0):
    return ASSISTANT
  return None


def keras_classes() -> record.KerasClasses:
  import keras_hub  # pylint: disable=g-import-not-at-top

  m = keras_hub.models
  return record.KerasClasses(m.Gemma4Backbone, m.Gemma4Tokenizer,
                             m.Gemma4CausalLM)


def forward() -> type:
  from lit_gemma.salience import gemma4  # pylint: disable=g-import-not-at-top

  return gemma4.Gemma4Forward


def gguf():
  from lit_gemma.models.gguf import gemma4 as mapping  # pylint: disable=g-import-not-at-top

  return mapping.MAPPING


FAMILY = record.Family(
    name="Gemma 4",
    backbone="Gemma4Backbone",
    keras_classes=keras_classes,
    forward=forward,
    preset_folders=("gemma4",),
    encoder_args=("vision_encoder", "audio_encoder"),
    refusal=refusal,
    chat_format=chat_formats.GEMMA4.name,
    sharding=SHARDING,
    sizes=SIZES,
    context_lengths=(("gemma4", 131072),),
    gguf=gguf,
)
