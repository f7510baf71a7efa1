"""Gemma 3 (llama.cpp architecture "gemma3") as a GGUF family.

Why this module exists: it is the whole mapping from a Gemma 3 GGUF to
keras-hub's `Gemma3CausalLM`: which metadata becomes which backbone
argument (refusing what keras-hub's Gemma 3 cannot express, such as other
RoPE bases or global-layer patterns), and the table of tensors with their
shapes, variables and layout changes. `MAPPING` is what the Gemma 3
family's record (models/families/gemma3.py) points at.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np

from lit_gemma.models.gguf import mapping
from lit_gemma.models.gguf import reader
from lit_gemma.models.gguf import weights

ARCHITECTURE = "gemma3"

# keras-hub hard-codes these for Gemma 3 (see Gemma3Backbone/DecoderBlock).
_KERAS_LOCAL_ROPE_BASE = 10_000.0
_KERAS_GLOBAL_ROPE_BASE = 1_000_000.0
_KERAS_GLOBAL_EVERY = 6  # layer i is global iff i % 6 == 5
_KERAS_BLOCK_EPSILON = 1e-6  # decoder blocks do not take the backbone's eps
# llama.cpp stores Gemma 3's RMSNorm weights with +1 added; keras-hub
# computes x * (1 + scale).
_NORM = weights.norm_offset(1.0)


@dataclasses.dataclass(frozen=True)
class Config:
  """What the metadata says about the network, in keras-hub's terms."""

  vocabulary_size: int
  num_layers: int
  hidden_dim: int
  num_query_heads: int
  num_key_value_heads: int
  head_dim: int
  intermediate_dim: int
  sliding_window_size: int
  layer_norm_epsilon: float
  global_rope_scaling_factor: float

  def backbone_kwargs(self, dtype: str) -> dict[str, Any]:
    return dict(
        vocabulary_size=self.vocabulary_size,
        image_size=896,  # unused: text only
        num_layers=self.num_layers,
        num_query_heads=self.num_query_heads,
        num_key_value_heads=self.num_key_value_heads,
        hidden_dim=self.hidden_dim,
        intermediate_dim=self.intermediate_dim,
        head_dim=self.head_dim,
        query_head_dim_normalize=True,
        use_query_key_norm=True,
        use_post_ffw_norm=True,
        use_post_attention_norm=True,
        attention_logit_soft_cap=None,
        final_logit_soft_cap=None,
        use_sliding_window_attention=True,
        sliding_window_size=self.sliding_window_size,
        local_rope_scaling_factor=1.0,
        global_rope_scaling_factor=self.global_rope_scaling_factor,
        vision_encoder=None,
        layer_norm_epsilon=self.layer_norm_epsilon,
        dtype=dtype,
    )


def read_config(meta: reader.Meta, path: pathlib.Path) -> Config:
  """Builds the backbone config, refusing what keras-hub cannot express."""
  a = ARCHITECTURE
  fail = reader.fail
  num_layers = meta.get_int(f"{a}.block_count")
  head_dim = meta.get_int(f"{a}.attention.key_length")
  value_dim = meta.get_int(f"{a}.attention.value_length") if meta.has(
      f"{a}.attention.value_length") else head_dim
  if value_dim != head_dim:
    raise fail(path, f"value head dim {value_dim} != key head dim "
               f"{head_dim}; keras-hub's Gemma 3 needs them equal")
  eps = float(meta.get(f"{a}.attention.layer_norm_rms_epsilon"))
  if not np.isclose(eps, _KERAS_BLOCK_EPSILON, rtol=1e-5, atol=0):
    raise fail(path, f"RMSNorm epsilon {eps} is not supported (keras-hub's "
               f"Gemma 3 blocks use {_KERAS_BLOCK_EPSILON})")
  if not meta.has(f"{a}.attention.sliding_window"):
    raise fail(path, f"metadata key {a}.attention.sliding_window is missing")
  window = meta.get_int(f"{a}.attention.sliding_window")

  _check_global_layers(meta, path, num_layers)
  base = float(meta.get(f"{a}.rope.freq_base", _KERAS_GLOBAL_ROPE_BASE))
  if base != _KERAS_GLOBAL_ROPE_BASE:
    raise fail(path, f"global RoPE base {base:g} is not supported (keras-hub "
               f"fixes it at {_KERAS_GLOBAL_ROPE_BASE:g})")
  local = float(meta.get(f"{a}.rope.freq_base_swa", _KERAS_LOCAL_ROPE_BASE))
  if local != _KERAS_LOCAL_ROPE_BASE:
    raise fail(path, f"local RoPE base {local:g} is not supported (keras-hub "
               f"fixes it at {_KERAS_LOCAL_ROPE_BASE:g})")
  scaling = meta.get(f"{a}.rope.scaling.type", "none")
  factor = float(meta.get(f"{a}.rope.scaling.factor", 1.0))
  if scaling not in ("none", "linear") or (scaling == "none" and factor != 1):
    raise fail(path, f"RoPE scaling {scaling!r} (factor {factor:g}) is not "
               "supported")
  for key in ("attn_logit_softcapping", "final_logit_softcapping"):
    if meta.get(f"{a}.{key}", None):
      raise fail(path, f"{a}.{key} is set; Gemma 3 in keras-hub has none")

  hidden = meta.get_int(f"{a}.embedding_length")
  heads = meta.get_int(f"{a}.attention.head_count")
  if num_layers == 62 and hidden // heads != head_dim:
    # llama.cpp scales the 27B's queries by hidden/heads; keras-hub's Gemma 3
    # attention always uses head_dim.
    raise fail(path, "the 27B query scaling (hidden/heads) is not supported "
               "by keras-hub's Gemma 3")
  return Config(
      vocabulary_size=len(meta.get("tokenizer.ggml.tokens")),
      num_layers=num_layers,
      hidden_dim=hidden,
      num_query_heads=heads,
      num_key_value_heads=meta.get_int(f"{a}.attention.head_count_kv"),
      head_dim=head_dim,
      intermediate_dim=meta.get_int(f"{a}.feed_forward_length"),
      sliding_window_size=window,
      layer_norm_epsilon=eps,
      global_rope_scaling_factor=factor,
  )


def _check_global_layers(meta: reader.Meta, path: pathlib.Path,
                         num_layers: int) -> None:
  """keras-hub makes layer i global iff i % 6 == 5; the file must agree.

  llama.cpp's gemma3 loader uses the same pattern unless the file carries
  `gemma3.attention.sliding_window_pattern` (a period, or one bool per layer,
  True for a sliding-window layer).
  """
  key = f"{ARCHITECTURE}.attention.sliding_window_pattern"
  keras_local = [i % _KERAS_GLOBAL_EVERY < _KERAS_GLOBAL_EVERY - 1
                 for i in range(num_layers)]
  pattern = meta.get(key, None)
  if pattern is None:
    return
  if isinstance(pattern, list):
    local = [bool(p) for p in pattern]
  else:
    period = int(pattern)
    local = [period > 0 and i % period < period - 1 for i in range(num_layers)]
  if local != keras_local:
    found = [i for i, is_local in enumerate(local) if not is_local]
    wanted = [i for i, is_local in enumerate(keras_local) if not is_local]
    raise reader.fail(path, f"global attention layers {found} differ from "
                      f"keras-hub's fixed {wanted}")


def tensors(config: Config) -> dict[str, weights.Tensor]:
  """Every tensor a Gemma 3 GGUF must have, with where it goes."""
  c = config
  d, f, v, hd = c.hidden_dim, c.intermediate_dim, c.vocabulary_size, c.head_dim
  nq, nkv = c.num_query_heads, c.num_key_value_heads
  q, kv = nq * hd, nkv * hd
  T = weights.Tensor
  table = {
      "token_embd.weight": T((v, d), "token_embedding.embeddings",
                             weights.same),
      "output_norm.weight": T((d,), "layer_norm.scale", _NORM),
  }
  block = (
      # GGUF name, shape, variable under the decoder block, transform.
      ("attn_norm", (d,), "pre_attention_norm.scale", _NORM),
      ("post_attention_norm", (d,), "post_attention_norm.scale", _NORM),
      ("ffn_norm", (d,), "pre_ffw_norm.scale", _NORM),
      ("post_ffw_norm", (d,), "post_ffw_norm.scale", _NORM),
      ("attn_q_norm", (hd,), "attention.query_norm.scale", _NORM),
      ("attn_k_norm", (hd,), "attention.key_norm.scale", _NORM),
      ("attn_q", (q, d), "attention.query_dense.kernel",
       weights.heads_in(nq, hd)),
      ("attn_k", (kv, d), "attention.key_dense.kernel",
       weights.heads_in(nkv, hd)),
      ("attn_v", (kv, d), "attention.value_dense.kernel",
       weights.heads_in(nkv, hd)),
      ("attn_output", (d, q), "attention.output_dense.kernel",
       weights.heads_out(nq, hd)),
      ("ffn_gate", (f, d), "gating_ffw.kernel", weights.transpose),
      ("ffn_up", (f, d), "gating_ffw_2.kernel", weights.transpose),
      ("ffn_down", (d, f), "ffw_linear.kernel", weights.transpose),
  )
  for i in range(c.num_layers):
    for name, shape, where, transform in block:
      table[f"blk.{i}.{name}.weight"] = T(
          shape, f"transformer_layers.{i}.{where}", transform)
  return table


MAPPING = mapping.GGUFMapping(
    architecture=ARCHITECTURE,
    read_config=read_config,
    tensors=tensors,
    tokenizer_args={"has_vision_tokens": False},
    text_tokens=("<start_of_turn>", "<end_of_turn>"),
)
