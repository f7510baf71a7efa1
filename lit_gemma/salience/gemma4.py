"""Gemma 4's text decoder from raw embedding rows (see forward.py).

What differs from Gemma 1-3, read from keras-hub 0.32's `Gemma4Backbone`:
- E models add a per-layer token table: layer i gets
  `(norm(proj(x)[i] / sqrt(d)) + P[i] * sqrt(h)) / sqrt(2)`, where x is the
  scaled main embedding, P the per-layer table's raw rows and h the
  per-layer width. Both raw rows are inputs here, so salience's gradient
  runs over both tables and the per-layer inputs are recomputed inside the
  differentiated function.
- The last `num_kv_shared_layers` blocks reuse the K/V that an earlier
  block of the same attention type computed (`kv_shared_layer_index`).
- Everything else (global head size, K=V heads, partial RoPE, the
  double-wide MLP, the mixture-of-experts block, `x * scale` RMSNorm) lives
  inside keras-hub's decoder blocks and norms, which run unchanged. The
  blocks accept `positions=None` (0..T-1); only the whole backbone graph
  demands `position_ids`.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from lit_gemma.salience import forward as forward_lib
from lit_gemma.salience import block_kinds
from lit_gemma.salience import long_text
from lit_gemma.salience.forward import Params, Rows


def _block_impl(block, trainable, non_trainable, x, padding_mask,
                per_layer_input, shared_kv):
  """One decoder block, rematerialized apart from its dot products;
  returns its output and the K/V it computed (or borrowed)."""
  (out, kv), _ = block.stateless_call(
      trainable, non_trainable, x, padding_mask=padding_mask,
      per_layer_input=per_layer_input, shared_kv=shared_kv)
  return out, kv


_block_step = long_text.checkpoint_by_length(
    _block_impl, (0,), lambda *args: args[3].shape[1], carry_argnum=3,
    wrap=block_kinds.jit_per_kind)


class Gemma4Forward(forward_lib.Forward):
  """Text-only `Gemma4Backbone` (dense, E models and mixture of experts)."""

  def __init__(self, backbone, final_logit_cap: float | None = None):
    forward_lib.check_text_causal(backbone)
    layers = int(backbone.num_layers)
    if int(backbone.num_kv_shared_layers) >= layers:
      raise forward_lib.UnsupportedBackboneError(
          "Gemma4Backbone shares K/V in every layer: it is a "
          "speculative-decoding assistant, not a model that runs alone")
    super().__init__(backbone, final_logit_cap)
    self.hidden_dim = int(backbone.hidden_dim)
    self.vocabulary_size = int(backbone.vocabulary_size)
    self.per_layer_dim = int(backbone.hidden_size_per_layer_input or 0)
    self._embedding = backbone.token_embedding
    self._blocks = list(backbone.transformer_layers)
    self._runners = block_kinds.representatives(self._blocks)
    self._final_norm = backbone.layer_norm
    self._table_index = forward_lib.variable_index(
        self._embedding, self._embedding.embeddings)
    # Blocks whose K/V a later block borrows.
    self._kv_sources = {
        block.kv_shared_layer_index for block in self._blocks
        if block.is_kv_shared_layer and block.kv_shared_layer_index is not None
    }
    if self.per_layer_dim:
      self.tables = ("token_embedding", "per_layer_token_embedding")
      self._per_layer_table = backbone.per_layer_token_embedding
      self._per_layer_projection = backbone.per_layer_model_projection
      self._per_layer_norm = backbone.per_layer_projection_norm

  @property
  def dtype(self):
    return self._embedding.embeddings.dtype

  def params(self) -> Params:
    params = {
        "embedding": forward_lib.layer_state(self._embedding),
        "blocks": [forward_lib.layer_state(b) for b in self._blocks],
        "final_norm": forward_lib.layer_state(self._final_norm),
    }
    if self.per_layer_dim:
      params["per_layer"] = {
          "table": forward_lib.layer_state(self._per_layer_table),
          "projection": forward_lib.layer_state(self._per_layer_projection),
          "norm": forward_lib.layer_state(self._per_layer_norm),
      }
    return params

  def embed(self, params: Params, token_ids: jax.Array) -> Rows:
    table = params["embedding"][0][self._table_index]
    rows = jnp.take(table, token_ids, axis=0)
    if not self.per_layer_dim:
      return (rows,)
    (per_layer_table,) = params["per_layer"]["table"][0]
    return rows, jnp.take(per_layer_table, token_ids, axis=0)

  def _per_layer_inputs(self, params: Params, x: jax.Array,
                        per_layer_rows: jax.Array) -> list[jax.Array]:
    """Each block's per-layer input, as `Gemma4Backbone` computes it."""
    width = self.per_layer_dim
    rows = per_layer_rows.astype(x.dtype)
    rows = rows * jnp.asarray(float(width) ** 0.5, rows.dtype)
    projected, _ = self._per_layer_projection.stateless_call(
        *params["per_layer"]["projection"], x)
    projected = projected * jnp.asarray(float(self.hidden_dim) ** -0.5,
                                        projected.dtype)
    inputs = []
    for i in range(len(self._blocks)):
      part = projected[:, :, i * width : (i + 1) * width]
      normed, _ = self._per_layer_norm.stateless_call(
          *params["per_layer"]["norm"], part)
      inputs.append((normed + rows[:, :, i * width : (i + 1) * width])
                    * jnp.asarray(2.0 ** -0.5, part.dtype))
    return inputs

  def hidden(self, params: Params, rows: Rows,
             padding_mask: jax.Array) -> jax.Array:
    """Final-norm hidden states; each block keeps only its dot products
    for the backward pass (as Gemma 1-3's do)."""
    embeddings = rows[0]
    x = embeddings * jnp.sqrt(
        jnp.asarray(self.hidden_dim, "float32")).astype(embeddings.dtype)
    per_layer = (self._per_layer_inputs(params, x, rows[1])
                 if self.per_layer_dim else [None] * len(self._blocks))
    shared = {}
    for i, (block, (trainable, non_trainable)) in enumerate(
        zip(self._blocks, params["blocks"])):
      borrowed = (shared.get(block.kv_shared_layer_index)
                  if block.is_kv_shared_layer else None)
      x, kv = _block_step(self._runners[i], trainable, non_trainable, x,
                          padding_mask, per_layer[i], borrowed)
      if i in self._kv_sources:
        shared[i] = kv
    x, _ = self._final_norm.stateless_call(*params["final_norm"], x)
    return x

  def output_logits(self, params: Params, hidden: jax.Array) -> jax.Array:
    logits, _ = self._embedding.stateless_call(
        *params["embedding"], hidden, reverse=True)
    return logits
