"""The mixture-of-experts part of a Gemma 4 GGUF (26B A4B).

Why this module exists: keras-hub's Gemma 4 decoder block with
`enable_moe_block` runs a dense MLP and a routed expert bank side by side,
each with its own norms. llama.cpp (`src/models/gemma4.cpp`, the `gguf`
package's `MODEL_TENSORS[MODEL_ARCH.GEMMA4]`) names them differently, and
fuses each expert's gate and up projections into one tensor; this module
is that mapping, kept apart from the dense table in `gemma4.py`.

llama.cpp name (numpy shape)        keras-hub variable of the block
  ffn_norm         (H,)             pre_ffw_norm (the dense path's)
  post_ffw_norm_1  (H,)             post_ffw_norm_dense
  pre_ffw_norm_2   (H,)             pre_ffw_norm_moe
  post_ffw_norm_2  (H,)             post_ffw_norm_moe_path
  ffn_gate_inp.scale  (H,)          moe_router.per_dim_scale
  ffn_gate_inp.weight (E, H)        moe_router.proj.kernel (H, E)
  ffn_gate_up_exps (E, 2I, H)       moe_expert_bank.gate_proj, .up_proj
                                    (E, H, I) each: gate is the first half,
                                    as llama.cpp's `build_moe_ffn` splits it
  ffn_down_exps.weight (E, H, I)    moe_expert_bank.down_proj (E, I, H)
  ffn_down_exps.scale  (E,)         moe_expert_bank.per_expert_scale; the
                                    converter leaves it out when all are 1
Both sides route alike: a scale-free RMSNorm of the block's input, times
1/sqrt(H) and the per-dimension scale, softmax, top k, renormalised.
Norms are stored as they are (Gemma 4's RMSNorm is `x * scale`).
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from lit_gemma.gguf import reader
from lit_gemma.gguf import weights

_SOFTMAX = 1  # gguf.ExpertGatingFuncType.SOFTMAX


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
  if int(meta.get(f"{a}.expert_shared_count", 0)):
    raise reader.fail(path, f"{a}.expert_shared_count is set; keras-hub's "
                      "Gemma 4 has no shared experts besides its dense MLP")
  if int(meta.get(f"{a}.expert_gating_func", _SOFTMAX)) != _SOFTMAX:
    raise reader.fail(path, f"{a}.expert_gating_func is not softmax, the "
                      "only routing keras-hub's Gemma 4 has")
  if not meta.get(f"{a}.expert_weights_norm", True):
    raise reader.fail(path, f"{a}.expert_weights_norm is false; keras-hub's "
                      "Gemma 4 always renormalises the chosen experts")
  return dict(enable_moe_block=True, num_experts=experts,
              num_experts_per_token=used,
              expert_intermediate_dim=meta.get_int(
                  f"{a}.expert_feed_forward_length"))


def rows(kwargs: dict[str, Any]) -> list[tuple[str, tuple, str, Any, Any]]:
  """(GGUF name after `blk.N.`, shape, variable(s), transform, fill) for
  one MoE block."""
  d, e = kwargs["hidden_dim"], kwargs["num_experts"]
  i = kwargs["expert_intermediate_dim"]
  same, tr = weights.same, weights.transpose
  bank = "moe_expert_bank."
  return [
      ("post_ffw_norm_1.weight", (d,), "post_ffw_norm_dense.scale", same,
       None),
      ("pre_ffw_norm_2.weight", (d,), "pre_ffw_norm_moe.scale", same, None),
      ("post_ffw_norm_2.weight", (d,), "post_ffw_norm_moe_path.scale", same,
       None),
      ("ffn_gate_inp.scale", (d,), "moe_router.per_dim_scale", same, None),
      ("ffn_gate_inp.weight", (e, d), "moe_router.proj.kernel", tr, None),
      ("ffn_gate_up_exps.weight", (e, 2 * i, d),
       (bank + "gate_proj", bank + "up_proj"), _split_gate_up, None),
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
