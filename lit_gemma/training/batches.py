"""Tuning examples as padded token batches: prompt + target token ids with
the target positions the loss reads (the same convention the engine scores
with: BOS first, never a target; the target is every token after the
prompt's own). Shapes come from the engine's buckets, so a run compiles a
few programs, not one per length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from lit_gemma import errors
from lit_gemma.salience import buckets


@dataclasses.dataclass(frozen=True)
class Sft:
  """One supervised example: the prompt and the response to learn."""

  prompt: str
  target: str


@dataclasses.dataclass(frozen=True)
class Preference:
  """One preference pair: the prompt, the chosen and the rejected response."""

  prompt: str
  chosen: str
  rejected: str


class Batch(NamedTuple):
  """Rows of token ids, padding, and target positions with 0/1 weights
  (a padding row has every weight 0); a JAX pytree, as a NamedTuple."""

  token_ids: np.ndarray  # [rows, T] int32
  padding: np.ndarray  # [rows, T] int32
  positions: np.ndarray  # [rows, N] int32, each in [1, T)
  valid: np.ndarray  # [rows, N] float32


def encode(lm, prompt: str, target: str, max_length: int | None):
  """(token ids with BOS, first target position) of prompt + target."""
  ids = lm.text_ids(prompt, target, max_length)
  first = len(lm.encode(prompt))
  if first >= len(ids):
    raise errors.UserError(f"an example has an empty target (prompt "
                           f"{prompt[:60]!r}): nothing to learn from")
  return ids, first


def shape(encoded: Sequence[tuple[list[int], int]]) -> tuple[int, int]:
  """(padded length, padded target count) fitting every text: one shape
  per run, so a run compiles its step once."""
  length = buckets.sequence_bucket(max(len(ids) for ids, _ in encoded))
  return length, buckets.target_bucket(
      max(len(ids) - first for ids, first in encoded), length)


def pack(encoded: Sequence[tuple[list[int], int]], rows: int, pad_id: int,
         padded: tuple[int, int]) -> Batch:
  """`encoded` texts padded to `rows` rows and the `padded` shape."""
  length, width = padded
  token_ids, padding = buckets.pad_rows([ids for ids, _ in encoded], rows,
                                        length, pad_id)
  positions = np.ones((rows, width), np.int32)
  valid = np.zeros((rows, width), np.float32)
  for row, (ids, first) in enumerate(encoded):
    count = len(ids) - first
    positions[row, :count] = np.arange(first, len(ids))
    valid[row, :count] = 1.0
  return Batch(token_ids, padding, positions, valid)


def sft_batches(lm, examples: Sequence[Sft], batch_size: int,
                max_length: int | None = None) -> list[Batch]:
  """Batches of `batch_size` rows, in the examples' order."""
  encoded = [encode(lm, e.prompt, e.target, max_length) for e in examples]
  padded = shape(encoded)
  return [pack(encoded[i:i + batch_size], batch_size, lm.pad_id, padded)
          for i in range(0, len(encoded), batch_size)]


def preference_batches(lm, pairs: Sequence[Preference], batch_size: int,
                       max_length: int | None = None) -> list[Batch]:
  """Batches of `batch_size` pairs: rows [0, B) the chosen responses,
  rows [B, 2B) the rejected ones, pair i in rows i and B + i."""
  chosen = [encode(lm, p.prompt, p.chosen, max_length) for p in pairs]
  rejected = [encode(lm, p.prompt, p.rejected, max_length) for p in pairs]
  padded = shape(chosen + rejected)
  out = []
  for i in range(0, len(pairs), batch_size):
    chunk = chosen[i:i + batch_size]
    filler = [chunk[-1]] * (batch_size - len(chunk))
    batch = pack(chunk + filler + rejected[i:i + batch_size] + filler,
                 2 * batch_size, lm.pad_id, padded)
    valid = batch.valid.copy()
    valid[len(chunk):batch_size] = 0.0  # filler pairs count for nothing
    valid[batch_size + len(chunk):] = 0.0
    out.append(batch._replace(valid=valid))
  return out
