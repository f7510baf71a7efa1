"""Gemma 3n's text model from raw embedding rows (see forward.py).

`Gemma3nTextModel.call(input_ids, padding_mask, inputs_embeds,
per_layer_inputs)` runs the whole decoder (AltUp streams, LAuReL, K/V
sharing, activation sparsity, final norm) from embeddings, and the backbone
calls exactly that. So this module only rebuilds its two inputs from the
raw rows of both token tables, as `Gemma3nMultimodalEmbeddingProcessor`
does for text (each table's scale, the per-layer projection and norm,
token ids outside the per-layer vocabulary read its row 0), inside the
differentiated function, and runs keras-hub's code on explicit weights.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras

from lit_gemma.salience import forward as forward_lib
from lit_gemma.salience import long_text
from lit_gemma.salience.forward import Params, Rows


class Gemma3nForward(forward_lib.Forward):
  """Text-only `Gemma3nBackbone`: a main and a per-layer token table."""

  tables = ("token_embedding", "per_layer_token_embedding")

  def __init__(self, backbone, final_logit_cap: float | None = None):
    forward_lib.check_text_causal(backbone)
    super().__init__(backbone, final_logit_cap)
    model = backbone.language_model
    self._model = model
    self._variables = list(model.trainable_variables) + list(
        model.non_trainable_variables)
    self.hidden_dim = int(model.hidden_size)
    self.vocabulary_size = int(model.vocab_size)
    self.per_layer_vocabulary = int(backbone.vocab_size_per_layer_input)
    self._main = model.embed_tokens
    self._per_layer = model.embed_tokens_per_layer
    self._main_index = forward_lib.variable_index(
        model, self._main.embedding.embeddings)
    self._per_layer_index = forward_lib.variable_index(
        model, self._per_layer.embedding.embeddings)

  @property
  def dtype(self):
    return self._main.embedding.embeddings.dtype

  def params(self) -> Params:
    return {"model": forward_lib.layer_state(self._model)}

  def embed(self, params: Params, token_ids: jax.Array) -> Rows:
    trainable = params["model"][0]
    in_table = (token_ids >= 0) & (token_ids < self.per_layer_vocabulary)
    per_layer_ids = jnp.where(in_table, token_ids, 0)
    return (jnp.take(trainable[self._main_index], token_ids, axis=0),
            jnp.take(trainable[self._per_layer_index], per_layer_ids, axis=0))

  def _scope(self, params: Params):
    values = list(params["model"][0]) + list(params["model"][1])
    return keras.StatelessScope(
        state_mapping=list(zip(self._variables, values)))

  def hidden(self, params: Params, rows: Rows,
             padding_mask: jax.Array) -> jax.Array:
    """Final-norm hidden states from both tables' raw rows.

    The whole text model keeps only its dot products for the backward pass
    (the policy Gemma 1-3's blocks use), recomputing elementwise work.
    """
    return _hidden(self, params, rows, padding_mask)

  def output_logits(self, params: Params, hidden: jax.Array) -> jax.Array:
    with self._scope(params):
      return self._model.token_embedding(hidden, reverse=True)


def _hidden_impl(forward: Gemma3nForward, params, rows, padding_mask):
  model = forward._model
  main_rows, per_layer_rows = rows
  with forward._scope(params):
    inputs_embeds = main_rows * jnp.asarray(
        forward._main.embed_scale, main_rows.dtype)
    per_layer = per_layer_rows * jnp.asarray(
        forward._per_layer.embed_scale, per_layer_rows.dtype)
    per_layer = jnp.reshape(
        per_layer, per_layer.shape[:-1]
        + (model.num_hidden_layers, model.hidden_size_per_layer_input))
    per_layer = model.project_per_layer_inputs(inputs_embeds, per_layer)
    return model.call(None, padding_mask.astype(bool), inputs_embeds,
                      per_layer)


_hidden = long_text.checkpoint_by_length(
    _hidden_impl, (0,), lambda *args: args[2][0].shape[1])
