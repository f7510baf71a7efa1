"""The mixture-of-experts part of a Gemma 4 GGUF (26B A4B).

Why this module exists: keras-hub's Gemma 4 decoder block with
`enable_moe_block` runs a dense MLP and a routed expert bank side by side,
each with its own norms. llama.cpp names them differently and fuses each
expert's gate and up projections into one tensor; this module is that
mapping, kept apart from the dense table in `gemma4.py`.

Checked against ggml-org/llama.cpp: `conversion/gemma.py` (`Gemma4Model`,
commit 061b8c5f91885f2779d23198a091777df47c3f6f), `src/models/gemma4.cpp`
(commit 9af0434d8c5ede7127955d063a9617d8492ae79d) and `build_moe_ffn` in
`src/llama-graph.cpp`; names from the installed `gguf` 0.19.0 tables.

llama.cpp name (numpy shape)        keras-hub variable of the block
  ffn_norm         (H,)             pre_ffw_norm (the dense path's)
  post_ffw_norm_1  (H,)             post_ffw_norm_dense
  pre_ffw_norm_2   (H,)             pre_ffw_norm_moe
  post_ffw_norm_2  (H,)             post_ffw_norm_moe_path
  ffn_gate_inp.scale  (H,)          moe_router.per_dim_scale (HF router.scale)
  ffn_gate_inp.weight (E, H)        moe_router.proj.kernel (H, E)
  ffn_gate_up_exps (E, 2I, H)       moe_expert_bank.gate_proj, .up_proj
                                    (E, H, I) each: gate is the first I rows,
                                    as `build_moe_ffn` views it (HF's fused
                                    experts.gate_up_proj, unchanged)
  or ffn_gate_exps, ffn_up_exps (E, I, H): the loader's unfused fallback
  ffn_down_exps.weight (E, H, I)    moe_expert_bank.down_proj (E, I, H)
  ffn_down_exps.scale  (E,)         moe_expert_bank.per_expert_scale (HF
                                    router.per_expert_scale); the loader
                                    treats it as optional (no scaling), so
                                    an absent one reads as 1
Routing is not read from metadata: llama.cpp's Gemma 4 graph always uses a
scale-free RMSNorm of the block's input times 1/sqrt(H) and the per-dim
scale, softmax, top k, renormalised, whatever `expert_gating_func` or
`expert_weights_norm` say; keras-hub's router does the same. Norms are
stored as they are (`Gemma4Model.norm_shift` is 0; RMSNorm is x * scale).
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from lit_gemma.models.gguf import reader
from lit_gemma.models.gguf import weights


def backbone_args(meta: reader.Meta, path: pathlib.Path) -> dict[str, Any]:
  """`Gemma4Backbone` MoE arguments; {} for a dense model."""
  a = "gemma4"
  experts = int(meta.get(f"{a}.expert_count", 0))
  if not experts:
    return {}
  used = meta.get_int(f"{a}.expert_used_count")
  if not 0 < used <= experts:
    raise reader.fail(path, f"{a}.expert_used_count is {used}, not between "
                      f"1 and {a}.expert_count ({experts})")
  return dict(enable_moe_block=True, num_experts=experts,
              num_experts_per_token=used,
              expert_intermediate_dim=meta.get_int(
                  f"{a}.expert_feed_forward_length"))


def split_experts(tensor_names, num_layers: int) -> bool:
  """True when the file stores each expert's gate and up apart
  (`ffn_gate_exps`/`ffn_up_exps`), which llama.cpp's loader accepts in place
  of the fused `ffn_gate_up_exps` the converter writes."""
  return any(f"blk.{i}.ffn_gate_exps.weight" in tensor_names
             for i in range(num_layers))


def rows(kwargs: dict[str, Any], split: bool = False
         ) -> list[tuple[str, tuple, Any, Any, Any]]:
  """(GGUF name after `blk.N.`, shape, variable(s), transform, fill) for
  one MoE block."""
  d, e = kwargs["hidden_dim"], kwargs["num_experts"]
  i = kwargs["expert_intermediate_dim"]
  same, tr = weights.same, weights.transpose
  bank = "moe_expert_bank."
  if split:
    gate_up = [
        ("ffn_gate_exps.weight", (e, i, d), bank + "gate_proj", _experts_t,
         None),
        ("ffn_up_exps.weight", (e, i, d), bank + "up_proj", _experts_t, None),
    ]
  else:
    gate_up = [("ffn_gate_up_exps.weight", (e, 2 * i, d),
                (bank + "gate_proj", bank + "up_proj"), _split_gate_up, None)]
  return [
      ("post_ffw_norm_1.weight", (d,), "post_ffw_norm_dense.scale", same,
       None),
      ("pre_ffw_norm_2.weight", (d,), "pre_ffw_norm_moe.scale", same, None),
      ("post_ffw_norm_2.weight", (d,), "post_ffw_norm_moe_path.scale", same,
       None),
      ("ffn_gate_inp.scale", (d,), "moe_router.per_dim_scale", same, None),
      ("ffn_gate_inp.weight", (e, d), "moe_router.proj.kernel", tr, None),
      *gate_up,
      ("ffn_down_exps.weight", (e, d, i), bank + "down_proj", _experts_t,
       None),
      ("ffn_down_exps.scale", (e,), bank + "per_expert_scale", same, 1.0),
  ]


def _experts_t(w: np.ndarray) -> np.ndarray:
  # (E, out, in) -> keras-hub's per-expert (E, in, out).
  return w.transpose(0, 2, 1)


def _split_gate_up(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  half = w.shape[1] // 2
  return _experts_t(w[:, :half]), _experts_t(w[:, half:])
