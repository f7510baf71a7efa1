"""The tuning losses, as pure JAX functions of the forward pass's params
and a batch (batches.py), and the Adam update of the adapters.

  sft   mean over target tokens of -log p(token | everything before it):
        the loss `tune` lowers on supervised pairs
  dpo   Direct Preference Optimization (Rafailov et al., 2023) against the
        frozen starting model: -log sigmoid(beta * ((log pi(chosen) -
        log ref(chosen)) - (log pi(rejected) - log ref(rejected)))), log
        pi a response's summed token log-probabilities

Target positions alone are projected onto the vocabulary
(salience/log_probs.py `at_positions`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lit_gemma.salience import log_probs


def token_log_probs(forward, params, batch) -> jax.Array:
  """[rows, N] target log-probabilities, 0 where a position is padding."""
  lp = log_probs.at_positions(forward, params, batch.token_ids,
                              batch.padding, batch.positions)
  return lp * batch.valid


def sft_loss(forward, params, batch) -> jax.Array:
  """Mean negative log-likelihood per target token of the batch."""
  lp = token_log_probs(forward, params, batch)
  return -jnp.sum(lp) / jnp.maximum(jnp.sum(batch.valid), 1.0)


def sequence_log_probs(forward, params, batch) -> jax.Array:
  """[rows] summed target log-probabilities."""
  return jnp.sum(token_log_probs(forward, params, batch), axis=-1)


def dpo_terms(policy: jax.Array, reference: jax.Array, pair_valid,
              beta: float) -> tuple[jax.Array, jax.Array]:
  """(loss, mean implicit reward margin) of pairs laid out as
  batches.preference_batches lays them out."""
  half = policy.shape[0] // 2
  ratio = policy - reference
  margin = beta * (ratio[:half] - ratio[half:])
  count = jnp.maximum(jnp.sum(pair_valid), 1.0)
  loss = -jnp.sum(jax.nn.log_sigmoid(margin) * pair_valid) / count
  return loss, jnp.sum(margin * pair_valid) / count


def dpo_loss(forward, params, batch, reference, beta: float) -> jax.Array:
  pair_valid = (jnp.sum(batch.valid, axis=-1)[: batch.valid.shape[0] // 2]
                > 0).astype(jnp.float32)
  policy = sequence_log_probs(forward, params, batch)
  return dpo_terms(policy, reference, pair_valid, beta)[0]


def adam_init(values):
  zeros = [jnp.zeros_like(v) for v in values]
  return {"step": jnp.zeros((), jnp.int32), "m": zeros,
          "v": [jnp.zeros_like(v) for v in values]}


def adam_update(values, grads, state, learning_rate: float,
                b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
  """One Adam step (Kingma & Ba, 2015, with bias correction)."""
  step = state["step"] + 1
  m = [b1 * m + (1 - b1) * g for m, g in zip(state["m"], grads)]
  v = [b2 * v + (1 - b2) * g * g for v, g in zip(state["v"], grads)]
  t = step.astype(jnp.float32)
  scale = learning_rate * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
  new = [p - scale * mi / (jnp.sqrt(vi) + eps)
         for p, mi, vi in zip(values, m, v)]
  return new, {"step": step, "m": m, "v": v}
