"""Independent reference values: gradients and log-probabilities taken
through keras-hub's own functional backbone on token ids (not through the
salience engine's forward pass from embeddings).

The weights are arguments of the compiled functions: closed over, XLA embeds
the 270M's 1 GB of weights as constants and the compile takes minutes and
gigabytes.
"""

import jax
import jax.numpy as jnp
import numpy as np


def _pieces(causal_lm):
  """(table, weights, log_probs(table, weights, ids))."""
  backbone = causal_lm.backbone
  table_var = backbone.token_embedding.embeddings
  trainable = [v.value for v in backbone.trainable_variables]
  fixed = [v.value for v in backbone.non_trainable_variables]
  index = [v.path for v in backbone.trainable_variables].index(table_var.path)

  def log_probs(table, weights, ids_arr):
    trained, non_trainable = weights
    values = list(trained)
    values[index] = table
    hidden, _ = backbone.stateless_call(
        values, non_trainable,
        {"token_ids": ids_arr, "padding_mask": jnp.ones_like(ids_arr)})
    # The output projection uses a constant copy of the table, so only the
    # input embedding counts.
    logits = hidden[0] @ jax.lax.stop_gradient(trained[index]).T
    return jax.nn.log_softmax(logits, -1)

  return trainable[index], (trainable, fixed), log_probs


def backbone_gradient(causal_lm, ids, mask):
  """(g rows, E rows) for each token: g_t = dL/dE_t through the backbone.

  The gradient with respect to the whole embedding table is, for a token v,
  the sum of g_t over the positions where v occurs.
  """
  table, weights, log_probs = _pieces(causal_lm)
  ids_arr = jnp.asarray([ids], "int32")
  labels = jnp.asarray(ids[1:], "int32")
  weight = jnp.asarray(mask[1:], jnp.float32)

  def loss(t, w):
    nll = -jnp.take_along_axis(log_probs(t, w, ids_arr)[:-1],
                               labels[:, None], -1)[:, 0]
    return jnp.sum(nll * weight)

  table_grad = jax.jit(jax.grad(loss))(table, weights)
  return (np.asarray(table_grad)[np.asarray(ids)],
          np.asarray(table)[np.asarray(ids)])


def backbone_log_probs(causal_lm, ids):
  """log p(ids[t] | ids[:t]) for t = 1..T-1 through the backbone."""
  table, weights, log_probs = _pieces(causal_lm)
  labels = np.asarray(ids[1:])
  values = log_probs(table, weights, jnp.asarray([ids], "int32"))  # eager
  return np.asarray(jnp.take_along_axis(
      values[:-1], jnp.asarray(labels)[:, None], -1)[:, 0])
