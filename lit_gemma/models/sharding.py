"""Which weights of each Gemma family are split across the "model" axis.

keras-hub has a layout map only for `GemmaBackbone`, and it splits the
key/value-head axis, which a model with one KV head (Gemma 3 270M and 1B)
cannot split. These rules split only axes that grow with the model and that
most sizes divide: query heads (and the attention output's head axis), the
feed-forward width, the experts and the vocabulary. Everything else (norms,
K/V projections, routers, per-layer gates) is replicated: small beside the
rest. The paths were read from real keras-hub backbones (`backbone.weights`);
a rule whose axis the mesh does not divide falls back to replicated (see
`distribution.ShardedModelParallel`), so one map serves every size.

Each rule is (path regex, axis names), matched with `re.fullmatch` as
`keras.distribution.LayoutMap` does. The families' paths never overlap, so
one map can hold them all and a server can load several families at once.
"""

from __future__ import annotations

MODEL = "model"
_ = None

# Gemma 1, 2, 3 (GemmaBackbone, Gemma3Backbone): query [H, d, h],
# attention output [H, h, d], gate/up [d, F], down [F, d], table [V, d].
GEMMA = (
    (r"token_embedding/embeddings", (MODEL, _)),
    (r".*attention/query/kernel", (MODEL, _, _)),
    (r".*attention/attention_output/kernel", (MODEL, _, _)),
    (r".*ffw_gating(_2)?/kernel", (_, MODEL)),
    (r".*ffw_linear/kernel", (MODEL, _)),
)

# Gemma 4 (Gemma4Backbone): Gemma's paths, plus the per-layer token table
# [V, layers * p] of the E models and the expert bank [E, ...] of the MoE
# models (its router and per-dimension scales stay replicated).
GEMMA4 = GEMMA + (
    (r"per_layer_token_embedding/embeddings", (MODEL, _)),
    (r".*moe_expert_bank/(gate_proj|up_proj|down_proj)", (MODEL, _, _)),
    (r".*moe_expert_bank/per_expert_scale", (MODEL,)),
)

# Gemma 3n (Gemma3nBackbone, under text_model/): heads are flattened into
# q [d, H*h] and o [H*h, d]; feed-forward gate/up [d, F], down [F, d].
GEMMA3N = (
    (r"text_model/embed_tokens/embedding/embeddings", (MODEL, _)),
    (r"text_model/embed_tokens_per_layer/embedding/embeddings", (MODEL, _)),
    (r".*attention/q_proj/kernel", (_, MODEL)),
    (r".*attention/o_proj/kernel", (MODEL, _)),
    (r".*mlp/(gate_proj|up_proj)/kernel", (_, MODEL)),
    (r".*mlp/down_proj/kernel", (MODEL, _)),
)

BY_BACKBONE = {
    "GemmaBackbone": GEMMA,  # Gemma 1 and Gemma 2
    "Gemma3Backbone": GEMMA,
    "Gemma4Backbone": GEMMA4,
    "Gemma3nBackbone": GEMMA3N,
}


def all_rules() -> tuple[tuple[str, tuple], ...]:
  """Every family's rules once, in order (Gemma 4 extends Gemma's)."""
  rules = {}
  for family in BY_BACKBONE.values():
    for pattern, axes in family:
      rules.setdefault(pattern, axes)
  return tuple(rules.items())


def layout_map(device_mesh, rules=None):
  """A `keras.distribution.LayoutMap` on `device_mesh` from `rules`
  (default: every family's)."""
  import keras  # pylint: disable=g-import-not-at-top

  layouts = keras.distribution.LayoutMap(device_mesh)
  for pattern, axes in (rules if rules is not None else all_rules()):
    layouts[pattern] = axes
  return layouts
