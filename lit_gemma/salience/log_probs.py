"""Target log-likelihoods of many texts in batched forward passes.

Ablation scores one text with each of its segments removed: dozens of
forward passes that differ only a little. The engine's `target_log_probs`
runs one text per call; this runs up to `max_batch` per compiled call,
through the same forward pass (`SalienceEngine.forward`: embed, decoder
stack, vocabulary projection at the target positions only), padded to the
engine's shape buckets so that a new prompt length rarely compiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lit_gemma.salience import buckets

# Most (row, target position) pairs per compiled call: the logits are
# rows x positions x vocabulary floats (1 GiB at 1024 for a 262k vocabulary).
MAX_ROW_TARGETS = 1024


def at_positions(forward, params, token_ids, padding, positions):
  """log p(token_t | tokens_<t) [batch, N] at `positions` [batch, N] of
  `token_ids` [batch, T]: the decoder stack over every token, the
  vocabulary projection at the N positions only (a [batch, T, 262k]
  logits tensor would not fit a CPU's memory). Scoring and tuning
  (training/objectives.py) share it."""
  hidden = forward.hidden(params, forward.embed(params, token_ids), padding)
  rows = jnp.take_along_axis(hidden, (positions - 1)[..., None], axis=1)
  logits = forward.logits(params, rows).astype(jnp.float32)
  labels = jnp.take_along_axis(token_ids, positions, axis=1)
  return jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1),
                             labels[..., None], axis=-1)[..., 0]


class BatchScorer:
  """log p(token_t | tokens_<t) at chosen positions of many texts."""

  def __init__(self, engine):
    self._engine = engine
    self._step = jax.jit(self._log_probs)

  def _log_probs(self, params, token_ids, padding, positions):
    return at_positions(self._engine.forward, params, token_ids, padding,
                        positions)

  def log_probs(self, token_ids: Sequence[Sequence[int]],
                positions: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """One float32 array per text: the log-probabilities at its positions
    (each 1 <= t < len(text)).

    Every chunk of one call has the same shape (the longest text's length
    bucket, the most targets, a fixed row count): the ablated prompts of a
    text are about as long as it, and one shape is one compile.
    """
    for ids, picked in zip(token_ids, positions):
      if len(picked) and (min(picked) < 1 or max(picked) >= len(ids)):
        raise ValueError(f"positions must lie in [1, {len(ids)})")
    results: list[np.ndarray] = [np.zeros(0, np.float32)] * len(token_ids)
    todo = [i for i in range(len(token_ids)) if len(positions[i])]
    if not todo:
      return results
    length = buckets.sequence_bucket(max(len(token_ids[i]) for i in todo))
    width = buckets.target_bucket(max(len(positions[i]) for i in todo),
                                  length)
    most = max(1, min(self._engine.max_batch, MAX_ROW_TARGETS // width))
    rows = buckets.power_of_two_bucket(min(len(todo), most))
    if rows > most:
      rows //= 2
    for start in range(0, len(todo), rows):
      chunk = todo[start : start + rows]
      ids, padding = buckets.pad_rows([token_ids[i] for i in chunk], rows,
                                      length, self._engine.pad_id)
      slots = np.ones((rows, width), np.int32)
      for row, i in enumerate(chunk):
        slots[row, : len(positions[i])] = positions[i]
      out = np.asarray(self._step(self._engine.forward.params(), ids,
                                  padding, slots))
      for row, i in enumerate(chunk):
        results[i] = out[row, : len(positions[i])].astype(np.float32)
    return results
