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


def backbone_contrast_gradient(causal_lm, ids_target, mask_target,
                               ids_foil, mask_foil):
  """(g rows, E rows) of L(target) - L(foil) for the target text's tokens,
  through the backbone (rows of tokens that occur once in both texts are
  each position's own gradient)."""
  table, weights, log_probs = _pieces(causal_lm)

  def nll(t, w, ids, mask):
    picked = jnp.take_along_axis(
        log_probs(t, w, jnp.asarray([ids], "int32"))[:-1],
        jnp.asarray(ids[1:], "int32")[:, None], -1)[:, 0]
    return jnp.sum(-picked * jnp.asarray(mask[1:], jnp.float32))

  grad = jax.jit(jax.grad(
      lambda t, w: nll(t, w, ids_target, mask_target)
      - nll(t, w, ids_foil, mask_foil)))(table, weights)
  return (np.asarray(grad)[np.asarray(ids_target)],
          np.asarray(table)[np.asarray(ids_target)])


def backbone_log_probs(causal_lm, ids):
  """log p(ids[t] | ids[:t]) for t = 1..T-1 through the backbone."""
  table, weights, log_probs = _pieces(causal_lm)
  labels = np.asarray(ids[1:])
  values = log_probs(table, weights, jnp.asarray([ids], "int32"))  # eager
  return np.asarray(jnp.take_along_axis(
      values[:-1], jnp.asarray(labels)[:, None], -1)[:, 0])


def continuation_log_likelihood(lm, prompt: str, continuation: str) -> float:
  """log p(continuation | prompt) of a GemmaLM, in one full forward pass of
  prompt + continuation through the backbone."""
  ids = lm.encode(prompt + continuation)
  first = len(lm.encode(prompt))
  return float(backbone_log_probs(lm.causal_lm, ids)[first - 1:].astype(
      np.float64).sum())


def task_gradient(causal_lm, ids, mask, final_logit_cap=...):
  """(g rows, E rows, logits [T, V]) through keras-hub's own causal LM:
  its backbone graph on token ids (the table is the differentiated input),
  its tied output layer (soft-cap included) on the table as a constant,
  then the task's tanh cap: `causal_lm.final_logit_cap` unless given (None:
  no cap). A test checks the logits against the task's own call. Texts
  must not repeat a token (g is read off the table's gradient)."""
  assert len(set(ids)) == len(ids), "a token repeats"
  backbone = causal_lm.backbone
  embedding = backbone.token_embedding
  if final_logit_cap is ...:
    final_logit_cap = getattr(causal_lm, "final_logit_cap", None)
  paths = [v.path for v in backbone.trainable_variables]
  index = paths.index(embedding.embeddings.path)
  head = [paths.index(v.path) for v in embedding.trainable_variables]
  head_fixed = [v.value for v in embedding.non_trainable_variables]
  weights = ([v.value for v in backbone.trainable_variables],
             [v.value for v in backbone.non_trainable_variables])
  ids_arr = jnp.asarray([ids], "int32")
  inputs = {"token_ids": ids_arr, "padding_mask": jnp.ones_like(ids_arr)}
  if "position_ids" in backbone.input:  # Gemma 4's graph demands them
    inputs["position_ids"] = jnp.arange(len(ids), dtype="int32")[None]

  def logits_of(table, w):
    trained, fixed = w
    values = list(trained)
    values[index] = table
    hidden, _ = backbone.stateless_call(values, fixed, inputs)
    logits, _ = embedding.stateless_call(
        [jax.lax.stop_gradient(trained[i]) for i in head], head_fixed,
        hidden, reverse=True)
    logits = logits[0]
    if final_logit_cap is not None:
      logits = jnp.tanh(logits / final_logit_cap) * final_logit_cap
    return logits

  labels = jnp.asarray(ids[1:], "int32")
  weight = jnp.asarray(mask[1:], jnp.float32)

  def loss(table, w):
    log_probs = jax.nn.log_softmax(logits_of(table, w), -1)
    nll = -jnp.take_along_axis(log_probs[:-1], labels[:, None], -1)[:, 0]
    return jnp.sum(nll * weight)

  table = weights[0][index]
  table_grad = jax.jit(jax.grad(loss))(table, weights)
  rows = np.asarray(ids)
  return (np.asarray(table_grad)[rows], np.asarray(table)[rows],
          np.asarray(logits_of(table, weights)))
