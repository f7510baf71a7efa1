"""Gemma 4 text models (llama.cpp architecture "gemma4") as a GGUF family.

Why this module exists: it is the whole mapping from a Gemma 4 GGUF to
keras-hub's `Gemma4CausalLM` (text only): which `gemma4.*` metadata becomes
which `Gemma4Backbone` argument, refusing what keras-hub's Gemma 4 cannot
express, and the table of tensors with their shapes, variables and layout
changes. Tensor names are the `gguf` 0.19.0 package's
`MODEL_TENSORS[MODEL_ARCH.GEMMA4]`; keys, layouts and defaults were checked
against ggml-org/llama.cpp's converter `conversion/gemma.py` (`Gemma4Model`,
commit 061b8c5f91885f2779d23198a091777df47c3f6f), its loader and graph
`src/models/gemma4.cpp` (commit 9af0434d8c5ede7127955d063a9617d8492ae79d)
and `src/llama-hparams.h` (commit 027d57567f8506fca217b6c2a840b461369cf950).

What llama.cpp does, and so what a Gemma 4 GGUF means here:
- RMSNorm weights are stored as they are (`norm_shift` is 0): x * scale.
- `attention.key_length` is the global layers' head size,
  `attention.key_length_swa` the sliding layers' (default: the global one).
- K=V global layers are those without `attn_v` (the loader then uses K as
  V); `head_count_kv` is an array when global layers have their own K/V
  head count (written only when the HF config sets
  `num_global_key_value_heads`: 26B A4B, 31B).
- `rope_freqs` (required once a global layer exists) holds 1 for each
  rotated frequency pair of the global layers and 1e30 for each unrotated
  one: the partial rotary factor. `rope.dimension_count` is the global
  head size, `rope.dimension_count_swa` the sliding one.
- `feed_forward_length` is an array, twice as wide on K/V-sharing layers,
  only with the double-wide MLP.
- absent `final_logit_softcapping` means 30 (llama_hparams' default),
  absent `rope.freq_base_swa` means 10000; `attn_logit_softcapping` is not
  read by llama.cpp's Gemma 4 graph, so it is ignored here too.
- `layer_output_scale` is optional in the loader: absent, it reads as 1.
- mixture-of-experts files (26B A4B, `expert_count` set) add the tensors
  `gemma4_moe.py` maps. Speculative-decoding assistants are a separate
  architecture ("gemma4-assistant"), refused by `registry.py`.
`MAPPING` is what the Gemma 4 family's record (models/families/gemma4.py)
points at.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np

from lit_gemma.models.gguf import gemma4_moe
from lit_gemma.models.gguf import mapping
from lit_gemma.models.gguf import reader
from lit_gemma.models.gguf import weights

ARCHITECTURE = "gemma4"
TURN_MARKERS = ("<|turn>", "<turn|>")
_UNROTATED = 1e29  # llama.cpp writes 1e30 for a frequency pair left alone.
_FINAL_SOFTCAP = 30.0  # llama_hparams.f_final_logit_softcapping default
_SWA_FREQ_BASE = 10000.0  # llama_hparams.rope_freq_base_train_swa default


@dataclasses.dataclass(frozen=True)
class Config:
  """The backbone's arguments, and what the tensor table needs besides."""

  kwargs: dict[str, Any]
  sliding: tuple[bool, ...]  # per layer: True for a sliding-window layer
  global_kv: int = 0  # K/V heads of the global layers (head_count_kv)
  split_experts: bool = False  # MoE gate/up stored apart, not fused

  def backbone_kwargs(self, dtype: str) -> dict[str, Any]:
    return dict(self.kwargs, dtype=dtype)

  @property
  def num_layers(self) -> int:
    return self.kwargs["num_layers"]

  def first_shared(self) -> int:
    return self.num_layers - self.kwargs["num_kv_shared_layers"]


def _per_layer(meta: reader.Meta, key: str, n: int, path) -> list[int]:
  value = meta.get(key)
  values = value if isinstance(value, list) else [value] * n
  if len(values) != n:
    raise reader.fail(path, f"{key} has {len(values)} values for {n} layers")
  return [int(v) for v in values]


def read_config(meta: reader.Meta, path: pathlib.Path) -> Config:
  """Builds the backbone arguments, refusing what keras-hub cannot express."""
  a = ARCHITECTURE
  fail = reader.fail
  n = meta.get_int(f"{a}.block_count")
  pattern = meta.get(f"{a}.attention.sliding_window_pattern")
  if not isinstance(pattern, list) or len(pattern) != n:
    raise fail(path, f"{a}.attention.sliding_window_pattern must hold one "
               f"bool per layer ({n})")
  sliding = tuple(bool(p) for p in pattern)
  if all(sliding):
    raise fail(path, "no global attention layer (keras-hub's Gemma 4 needs "
               "one)")
  shared = int(meta.get(f"{a}.attention.shared_kv_layers", 0))
  if shared >= n:
    raise fail(path, f"all {n} layers share K/V ({a}.attention."
               "shared_kv_layers): this is a speculative-decoding assistant, "
               "not a model that runs alone")
  at = f"{a}.attention."
  global_head_dim = meta.get_int(at + "key_length")
  # llama.cpp: the *_swa lengths default to the global ones.
  head_dim = _int_or(meta, at + "key_length_swa", global_head_dim)
  if meta.get_int(at + "value_length") != global_head_dim or _int_or(
      meta, at + "value_length_swa", head_dim) != head_dim:
    raise fail(path, f"{at}key_length(_swa) != value_length(_swa); Gemma 4 "
               "needs them equal")

  kv = _per_layer(meta, at + "head_count_kv", n, path)
  local_kv = {h for h, s in zip(kv, sliding) if s}
  global_kv = {h for h, s in zip(kv, sliding) if not s}
  if len(local_kv) > 1 or len(global_kv) > 1:
    raise fail(path, f"{at}head_count_kv {kv} varies within a "
               "layer type; keras-hub's Gemma 4 has one per type")
  num_global_kv = global_kv.pop()
  num_kv = local_kv.pop() if local_kv else num_global_kv

  ffn = _per_layer(meta, f"{a}.feed_forward_length", n, path)
  first_shared = n - shared
  double_wide = ffn[first_shared:] != ffn[:1] * shared if shared else False
  wanted = [ffn[0] * (2 if double_wide and i >= first_shared else 1)
            for i in range(n)]
  if ffn != wanted:
    raise fail(path, f"{a}.feed_forward_length {ffn} is neither one width "
               "nor twice as wide on the K/V-sharing layers")

  if meta.get(f"{a}.rope.scaling.type", "none") != "none":
    raise fail(path, "RoPE scaling is not supported by keras-hub's Gemma 4")
  if meta.has(f"{a}.rope.dimension_count_swa") and meta.get_int(
      f"{a}.rope.dimension_count_swa") != head_dim:
    raise fail(path, "partial RoPE on sliding-window layers is not "
               "supported by keras-hub's Gemma 4")
  if meta.has(f"{a}.rope.dimension_count") and meta.get_int(
      f"{a}.rope.dimension_count") != global_head_dim:
    raise fail(path, f"{a}.rope.dimension_count differs from the global "
               "head size; llama.cpp marks unrotated pairs in rope_freqs")

  moe = gemma4_moe.backbone_args(meta, path)  # {} for a dense model
  vocab = len(meta.get("tokenizer.ggml.tokens"))
  kwargs = dict(
      vocabulary_size=vocab,
      image_size=896,  # required by keras-hub, unused by the text model
      num_layers=n,
      num_query_heads=meta.get_int(at + "head_count"),
      num_key_value_heads=num_kv,
      hidden_dim=meta.get_int(f"{a}.embedding_length"),
      intermediate_dim=ffn[0],
      head_dim=head_dim,
      global_head_dim=global_head_dim,
      attention_logit_soft_cap=None,  # llama.cpp's Gemma 4 graph has none
      final_logit_soft_cap=_softcap(meta, f"{a}.final_logit_softcapping"),
      use_sliding_window_attention=True,
      sliding_window_size=meta.get_int(at + "sliding_window"),
      layer_types=["sliding_attention" if s else "full_attention"
                   for s in sliding],
      global_rope_wavelength=float(meta.get(f"{a}.rope.freq_base")),
      local_rope_wavelength=float(meta.get(f"{a}.rope.freq_base_swa",
                                           _SWA_FREQ_BASE)),
      layer_norm_epsilon=float(meta.get(at + "layer_norm_rms_epsilon")),
      num_kv_shared_layers=shared,
      num_global_key_value_heads=None,  # set by `with_tensors` (K=V)
      hidden_size_per_layer_input=meta.get_int(
          f"{a}.embedding_length_per_layer_input"),
      vocab_size_per_layer_input=vocab,
      use_double_wide_mlp=double_wide,
      vision_encoder=None,
      audio_encoder=None,
      **moe,
  )
  return Config(kwargs, sliding, global_kv=num_global_kv)


def _int_or(meta: reader.Meta, key: str, default: int) -> int:
  return meta.get_int(key) if meta.has(key) else default


def _softcap(meta: reader.Meta, key: str) -> float | None:
  """llama.cpp's cap: the key, else 30 (llama_hparams); 0 means none."""
  value = float(meta.get(key, _FINAL_SOFTCAP))
  return value or None


def with_tensors(config: Config, tensors_by_name, path: pathlib.Path
                 ) -> Config:
  """Completes the config from what only the tensors say, as llama.cpp's
  loader reads them: the global layers' partial rotary factor
  (`rope_freqs`), whether they share one projection for K and V (no
  `attn_v`), and whether MoE gate/up are fused."""
  k = config.kwargs
  t = tensors_by_name.get("rope_freqs.weight")
  if t is None:
    raise reader.fail(path, "tensor rope_freqs.weight is missing (llama.cpp "
                      "needs it for the global layers' RoPE)")
  if reader.shape(t) != (k["global_head_dim"] // 2,):
    raise reader.fail(path, f"tensor rope_freqs.weight has shape "
                      f"{list(reader.shape(t))} but the metadata implies "
                      f"{[k['global_head_dim'] // 2]}")
  factor = _rotary_factor(reader.dequantize(t), k["global_head_dim"], path)
  own_kv = [i for i in range(config.first_shared()) if not config.sliding[i]]
  k_eq_v = bool(own_kv) and f"blk.{own_kv[0]}.attn_v.weight" not in (
      tensors_by_name)
  if not k_eq_v and config.global_kv != k["num_key_value_heads"]:
    raise reader.fail(path, f"global layers have {config.global_kv} K/V "
                      f"heads (head_count_kv) and their own attn_v; "
                      "keras-hub's Gemma 4 gives global layers their own "
                      "K/V head count only when K and V share attn_k")
  kwargs = dict(k, global_rope_partial_rotary_factor=factor,
                num_global_key_value_heads=(config.global_kv if k_eq_v
                                            else None))
  split = bool(k.get("enable_moe_block")) and gemma4_moe.split_experts(
      tensors_by_name, config.num_layers)
  return dataclasses.replace(config, kwargs=kwargs, split_experts=split)


def _rotary_factor(rope_freqs: np.ndarray, global_head_dim: int,
                   path: pathlib.Path) -> float:
  """keras-hub's `global_rope_partial_rotary_factor` from `rope_freqs`."""
  values = np.asarray(rope_freqs, dtype=np.float64).reshape(-1)
  rotated = int(np.sum(values == 1.0))
  if (values[:rotated] != 1.0).any() or (values[rotated:] < _UNROTATED).any():
    raise reader.fail(path, "rope_freqs.weight is not 1 for the rotated "
                      "pairs then 1e30 (llama.cpp's proportional RoPE)")
  return 2.0 * rotated / global_head_dim


def tensors(config: Config) -> dict[str, weights.Tensor]:
  """Every tensor a Gemma 4 GGUF must (or may) have, with where it goes."""
  k = config.kwargs
  d, v, n = k["hidden_dim"], k["vocabulary_size"], k["num_layers"]
  nq, hpl = k["num_query_heads"], k["hidden_size_per_layer_input"]
  T, tr, same = weights.Tensor, weights.transpose, weights.same
  table = {
      "token_embd.weight": T((v, d), "token_embedding.embeddings", same),
      "output_norm.weight": T((d,), "layer_norm.scale", same),
  }
  # Read (and required) by `with_tensors`, not loaded.
  table["rope_freqs.weight"] = T((k["global_head_dim"] // 2,), None, same)
  if hpl:
    table["per_layer_token_embd.weight"] = T(
        (k["vocab_size_per_layer_input"], n * hpl),
        "per_layer_token_embedding.embeddings", same)
    table["per_layer_model_proj.weight"] = T(
        (n * hpl, d), "per_layer_model_projection.kernel", tr)
    table["per_layer_proj_norm.weight"] = T(
        (hpl,), "per_layer_projection_norm.scale", same)
  for i in range(n):
    table.update(_block(config, i))
  return table


def _block(config: Config, i: int) -> dict[str, weights.Tensor]:
  k = config.kwargs
  d, nq, hpl = k["hidden_dim"], k["num_query_heads"], (
      k["hidden_size_per_layer_input"])
  is_global = not config.sliding[i]
  hd = k["global_head_dim"] if is_global else k["head_dim"]
  k_eq_v = is_global and k["num_global_key_value_heads"] is not None
  nkv = k["num_global_key_value_heads"] if k_eq_v else k[
      "num_key_value_heads"]
  shared = i >= config.first_shared()
  f = k["intermediate_dim"] * (2 if shared and k["use_double_wide_mlp"]
                               else 1)
  T, tr, same = weights.Tensor, weights.transpose, weights.same
  at = "attention."
  rows = [
      ("attn_norm", (d,), "pre_attention_norm.scale", same),
      ("post_attention_norm", (d,), "post_attention_norm.scale", same),
      ("ffn_norm", (d,), "pre_ffw_norm.scale", same),
      ("post_ffw_norm", (d,), "post_ffw_norm.scale", same),
      ("attn_q", (nq * hd, d), at + "query_dense.kernel",
       weights.heads_in(nq, hd)),
      ("attn_q_norm", (hd,), at + "query_norm.scale", same),
      ("attn_output", (d, nq * hd), at + "output_dense.kernel",
       weights.heads_out(nq, hd)),
      ("ffn_gate", (f, d), "gating_ffw.kernel", tr),
      ("ffn_up", (f, d), "gating_ffw_2.kernel", tr),
      ("ffn_down", (d, f), "ffw_linear.kernel", tr),
  ]
  # K/V-sharing layers read another layer's K/V: the loader does not need
  # their projections (none in HF checkpoints); any written go unread.
  kv_var = (lambda where: None) if shared else (lambda where: at + where)
  rows.append(("attn_k", (nkv * hd, d), kv_var("key_dense.kernel"),
               weights.heads_in(nkv, hd)))
  rows.append(("attn_k_norm", (hd,), kv_var("key_norm.scale"), same))
  if shared or not k_eq_v:
    rows.append(("attn_v", (nkv * hd, d), kv_var("value_dense.kernel"),
                 weights.heads_in(nkv, hd)))
  if hpl:
    rows += [
        ("inp_gate", (hpl, d), "per_layer_input_gate.kernel", tr),
        ("proj", (d, hpl), "per_layer_up_proj.kernel", tr),
        ("post_norm", (d,), "post_per_layer_input_norm.scale", same),
    ]
  table = {}
  for name, shape, where, transform in rows:
    var = None if where is None else f"transformer_layers.{i}.{where}"
    table[f"blk.{i}.{name}.weight"] = T(shape, var, transform)
  # Optional in llama.cpp's loader (no scaling when absent).
  table[f"blk.{i}.layer_output_scale.weight"] = T(
      (1,), f"transformer_layers.{i}.layer_scalar", _scalar, 1.0)
  if k.get("enable_moe_block"):
    block = f"transformer_layers.{i}."
    for name, shape, where, transform, fill in gemma4_moe.rows(
        k, config.split_experts):
      var = (tuple(block + w for w in where) if isinstance(where, tuple)
             else block + where)
      table[f"blk.{i}.{name}"] = T(shape, var, transform, fill)
  return table


def _scalar(w: np.ndarray) -> np.ndarray:
  return w.reshape(())


# llama.cpp architectures of drafters: `Gemma4AssistantModel` in
# conversion/gemma.py writes MODEL_ARCH.GEMMA4_ASSISTANT, named
# "gemma4-assistant" in gguf-py's MODEL_ARCH_NAMES.
MAPPING = mapping.GGUFMapping(
    architecture=ARCHITECTURE,
    read_config=read_config,
    tensors=tensors,
    tokenizer_args={"has_vision_tokens": False, "has_audio_tokens": False,
                    "has_video_tokens": False},
    text_tokens=TURN_MARKERS,
    with_tensors=with_tensors,
    drafters=("gemma4-assistant",),
)
