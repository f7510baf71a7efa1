"""Independent reference values: gradients and log-probabilities taken
through keras-hub's own functional backbone on token ids (not through the
salience engine's forward pass from embeddings)."""

import jax
import jax.numpy as jnp
import numpy as np


def _pieces(causal_lm, ids):
  backbone = causal_lm.backbone
  table_var = backbone.token_embedding.embeddings
  trainable = [v.value for v in backbone.trainable_variables]
  index = [v.path for v in backbone.trainable_variables].index(table_var.path)
  ids_arr = jnp.asarray([ids], "int32")

  def log_probs(table):
    values = list(trainable)
    values[index] = table
    hidden, _ = backbone.stateless_call(
        values, [v.value for v in backbone.non_trainable_variables],
        {"token_ids": ids_arr, "padding_mask": jnp.ones_like(ids_arr)})
    # The output projection uses a constant copy of the table, so only the
    # input embedding counts.
    logits = hidden[0] @ jax.lax.stop_gradient(trainable[index]).T
    return jax.nn.log_softmax(logits, -1)

  return trainable[index], log_probs


def backbone_gradient(causal_lm, ids, mask):
  """(g rows, E rows) for each token: g_t = dL/dE_t through the backbone.

  The gradient with respect to the whole embedding table is, for a token v,
  the sum of g_t over the positions where v occurs.
  """
  table, log_probs = _pieces(causal_lm, ids)
  labels = jnp.asarray(ids[1:], "int32")

  def loss(t):
    nll = -jnp.take_along_axis(log_probs(t)[:-1], labels[:, None], -1)[:, 0]
    return jnp.sum(nll * jnp.asarray(mask[1:]))

  table_grad = jax.jit(jax.grad(loss))(table)
  return (np.asarray(table_grad)[np.asarray(ids)],
          np.asarray(table)[np.asarray(ids)])


def backbone_log_probs(causal_lm, ids):
  """log p(ids[t] | ids[:t]) for t = 1..T-1 through the backbone."""
  table, log_probs = _pieces(causal_lm, ids)
  labels = np.asarray(ids[1:])
  return np.asarray(jnp.take_along_axis(
      log_probs(table)[:-1], jnp.asarray(labels)[:, None], -1)[:, 0])
