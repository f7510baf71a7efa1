"""Gemma 3n's text model from raw embedding rows, one decoder block at a time.

`Gemma3nTextModel.call` runs the whole decoder in one call, so the long-text
path could not recompute it block by block (see long_text.py) and a long
Gemma 3n prompt held every layer's attention. Here the model's own layers
run in the order its `call` runs them, each decoder block through the same
per-block step as Gemma 1-4's:
- the inputs, rebuilt from the raw rows of both token tables inside the
  differentiated function, as `Gemma3nMultimodalEmbeddingProcessor` does
  for text (each table's scale, the per-layer projection and norm; ids
  outside the per-layer vocabulary read its row 0);
- the AltUp streams: the scaled embedding and its projections, each
  rescaled to the embedding's root-mean-square magnitude;
- the decoder blocks (AltUp predict/correct, LAuReL, activation sparsity
  inside), the last `num_kv_shared_layers` reusing the K/V of the last
  earlier block of their attention type;
- the streams projected back, averaged, and the final norm.
Weights outside the blocks are passed into keras' layers by a
`StatelessScope`; each block's by `stateless_call`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras

from lit_gemma.salience import attention_seam
from lit_gemma.salience import block_kinds
from lit_gemma.salience import forward as forward_lib
from lit_gemma.salience import long_text
from lit_gemma.salience.forward import Params, Rows

# Floor of the AltUp streams' squared magnitude (keras-hub's epsilon).
_MAGNITUDE_EPSILON = 1e-5


def _block_impl(block, trainable, non_trainable, streams, per_layer_input,
                padding_mask, shared_kv):
  """One decoder block on the AltUp streams [n, B, T, d]; returns them and
  the K/V it computed (or borrowed)."""
  (out, kv), _ = block.stateless_call(
      trainable, non_trainable, (streams, per_layer_input, padding_mask),
      cache=shared_kv)
  return out, kv


_block_step = long_text.checkpoint_by_length(
    _block_impl, (0,), lambda *args: args[3].shape[2], carry_argnum=3,
    wrap=block_kinds.jit_per_kind, padding_argnum=5)


class Gemma3nForward(forward_lib.Forward):
  """Text-only `Gemma3nBackbone`: a main and a per-layer token table."""

  tables = ("token_embedding", "per_layer_token_embedding")

  def __init__(self, backbone, final_logit_cap: float | None = None):
    forward_lib.check_text_causal(backbone)
    super().__init__(backbone, final_logit_cap)
    model = backbone.language_model
    self._model = model
    self._blocks = list(model.transformer_layers)
    self._runners = block_kinds.representatives(self._blocks)
    attention_seam.install(self._blocks)
    in_blocks = {id(v) for block in self._blocks for v in block.variables}
    self._variables = [v for v in model.variables if id(v) not in in_blocks]
    self.hidden_dim = int(model.hidden_size)
    self.vocabulary_size = int(model.vocab_size)
    self.per_layer_vocabulary = int(backbone.vocab_size_per_layer_input)
    self._main = model.embed_tokens
    self._per_layer = model.embed_tokens_per_layer
    paths = [v.path for v in self._variables]
    self._main_index = paths.index(self._main.embedding.embeddings.path)
    self._per_layer_index = paths.index(
        self._per_layer.embedding.embeddings.path)

  @property
  def dtype(self):
    return self._main.embedding.embeddings.dtype

  def params(self) -> Params:
    return {
        "model": [v.value for v in self._variables],
        "blocks": [forward_lib.layer_state(b) for b in self._blocks],
    }

  def embed(self, params: Params, token_ids: jax.Array) -> Rows:
    values = params["model"]
    in_table = (token_ids >= 0) & (token_ids < self.per_layer_vocabulary)
    per_layer_ids = jnp.where(in_table, token_ids, 0)
    return (jnp.take(values[self._main_index], token_ids, axis=0),
            jnp.take(values[self._per_layer_index], per_layer_ids, axis=0))

  def _scope(self, params: Params):
    """keras' layers outside the blocks, reading `params`' weights."""
    return keras.StatelessScope(
        state_mapping=list(zip(self._variables, params["model"])))

  def hidden(self, params: Params, rows: Rows,
             padding_mask: jax.Array) -> jax.Array:
    """Final-norm hidden states from both tables' raw rows; each block
    keeps only its dot products (past the long-text threshold, only its
    inputs) for the backward pass, as Gemma 1-4's do."""
    model = self._model
    main_rows, per_layer_rows = rows
    with self._scope(params):
      embeds = main_rows * jnp.asarray(self._main.embed_scale, main_rows.dtype)
      per_layer = per_layer_rows * jnp.asarray(self._per_layer.embed_scale,
                                               per_layer_rows.dtype)
      per_layer = jnp.reshape(
          per_layer, per_layer.shape[:-1]
          + (model.num_hidden_layers, model.hidden_size_per_layer_input))
      per_layer = model.project_per_layer_inputs(embeds, per_layer)
      streams = _matched(embeds, [embeds] + [
          projection(embeds) for projection in model.altup_projections])
    padding = padding_mask.astype(bool)
    last_of_type = {}
    for i, (block, (trainable, non_trainable)) in enumerate(
        zip(self._runners, params["blocks"])):
      kind = model.layer_types[i]
      shared = i >= model.first_kv_shared_layer_idx > 0
      borrowed = last_of_type.get(kind) if shared else None
      streams, kv = _block_step(block, trainable, non_trainable, streams,
                                per_layer[:, :, i, :], padding, borrowed)
      if not shared:
        last_of_type[kind] = kv
    with self._scope(params):
      unembedded = _matched(streams[0], [streams[0]] + [
          projection(streams[i + 1])
          for i, projection in enumerate(model.altup_unembed_projections)])
      return model.final_normalization(jnp.mean(unembedded, axis=0))

  def output_logits(self, params: Params, hidden: jax.Array) -> jax.Array:
    with self._scope(params):
      return self._model.token_embedding(hidden, reverse=True)


def _magnitude(x):
  return jnp.sqrt(jnp.mean(x**2, axis=-1, keepdims=True))


def _matched(reference, streams):
  """The streams stacked [n, B, T, d], each after the first rescaled to
  `reference`'s root-mean-square magnitude (as keras-hub's AltUp does)."""
  target = _magnitude(reference)
  out = [streams[0]]
  for stream in streams[1:]:
    magnitude = jnp.sqrt(jnp.maximum(
        jnp.mean(stream**2, axis=-1, keepdims=True), _MAGNITUDE_EPSILON))
    out.append(stream * target / magnitude)
  return jnp.stack(out, axis=0)
