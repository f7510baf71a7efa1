"""Hidden states of many texts in batched forward passes, at a chosen depth.

Text vectors (tuning/vectors.py: near duplicates, topics, contamination) need
one forward pass over each of thousands of short texts. One text per call
wastes most of the arithmetic: on the embedded 270M (2 busy cores) a
32-token text took 0.41 s alone and 0.09 s a text in a batch of 8. Here the
texts are sorted by length so that the rows of one call share a length
bucket, and only the first `depth` decoder blocks run when a caller asks
for fewer than all of them. Short texts (most queries) are padded to a
multiple of 8 tokens rather than the engine's coarser buckets (a 17-token
query would otherwise run 32 positions), and a call holds about
TOKENS_PER_CALL positions, so short texts go more rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import jax
import numpy as np

from lit_gemma.salience import buckets

FINE_STEP = 8  # length buckets of short texts
FINE_UP_TO = 64  # beyond this, the engine's buckets
TOKENS_PER_CALL = 256  # rows x padded length of one call (at least `rows`)
MOST_ROWS = 32


def length_bucket(length: int) -> int:
  """Padded length of a text of `length` tokens."""
  if length <= FINE_UP_TO:
    return max(FINE_STEP, -(-length // FINE_STEP) * FINE_STEP)
  return buckets.sequence_bucket(length)


class HiddenStates:
  """Batched hidden states of an engine's model (thread-safe: no state)."""

  def __init__(self, engine, rows: int | None = None):
    """`engine`: a SalienceEngine; `rows`: texts per compiled call
    (default: the engine's batch size)."""
    self._engine = engine
    self._rows = max(1, rows or engine.max_batch)
    self._step = jax.jit(self._hidden, static_argnums=3)

  @property
  def layer_count(self) -> int:
    return self._engine.forward.layer_count

  def _hidden(self, params, token_ids, padding, depth):
    forward = self._engine.forward
    rows = forward.embed(params, token_ids)
    if depth >= forward.layer_count:
      return forward.hidden(params, rows, padding)
    return forward.hidden_at(params, rows, padding, depth)

  def rows_for(self, bucket: int) -> int:
    """Rows of a call at one padded length."""
    return max(self._rows, min(MOST_ROWS, TOKENS_PER_CALL // bucket))

  def calls(self, lengths: Sequence[int]) -> list[list[int]]:
    """The texts (indices) of each compiled call: sorted by length, one
    length bucket a call, at most `rows_for(bucket)` texts."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    for i in order:
      bucket = length_bucket(lengths[i])
      if (out and len(out[-1]) < self.rows_for(bucket) and
          length_bucket(lengths[out[-1][0]]) == bucket):
        out[-1].append(i)
      else:
        out.append([i])
    return out

  def __call__(self, token_ids: Sequence[Sequence[int]],
               depth: int | None = None
               ) -> Iterator[tuple[int, np.ndarray]]:
    """(index, hidden states [T, d] float32) for every text, in call order
    (sorted by length), so a caller can pool and drop them as they come.

    `depth`: decoder blocks to run (None or >= the stack: all, with the
    final norm)."""
    depth = self.layer_count if depth is None else int(depth)
    if depth < 1:
      raise ValueError(f"depth must be at least 1, got {depth}")
    depth = min(depth, self.layer_count)
    for call in self.calls([len(t) for t in token_ids]):
      length = length_bucket(len(token_ids[call[-1]]))
      # Always the bucket's row count (the last text repeated): one compile
      # a bucket costs more than a few wasted rows at the end of it.
      ids, padding = buckets.pad_rows([token_ids[i] for i in call],
                                      self.rows_for(length), length,
                                      self._engine.pad_id)
      out = np.asarray(self._step(self._engine.forward.params(), ids,
                                  padding, depth), dtype=np.float32)
      for row, i in enumerate(call):
        yield i, out[row, :len(token_ids[i])]
