"""Shape buckets: a few fixed sizes so that jit compiles a handful of
programs, not one per prompt length or span.

Sequence lengths double up to 128 tokens, then step by about 1.5x (padding
wastes at most a third): the server compiles every bucket its datasets use
before it serves (models/warmup.py), and short texts are cheap, so a text
of 33-48 or 65-96 tokens pads to 64 or 128 rather than cost two more
programs at each start. Batch and mask counts step by powers of two, and
target counts by 4x, since a new target bucket is a new compile on a UI
click while padding targets only costs a few rows of the vocabulary
projection.
"""

import bisect
import dataclasses
from collections.abc import Sequence

import numpy as np

SEQUENCE_BUCKETS = (16, 32, 64, 128, 192, 256, 384, 512, 768, 1024, 1536,
                    2048, 3072, 4096, 6144, 8192)
# Past the last bucket, sequences round up to multiples of 2,048 (a 9k-token
# text pads to 10,240, not 16,384: at most 2,047 wasted positions).
LONG_STEP = 2048
TARGET_BUCKETS = (8, 32, 128, 512, 2048, 8192)


def _round_up(n: int, buckets: tuple[int, ...]) -> int:
  i = bisect.bisect_left(buckets, max(n, 1))
  if i < len(buckets):
    return buckets[i]
  step = LONG_STEP if buckets is SEQUENCE_BUCKETS else buckets[-1]
  return -(-n // step) * step


def sequence_bucket(n: int) -> int:
  """Padded sequence length for `n` tokens."""
  return _round_up(n, SEQUENCE_BUCKETS)


def target_bucket(n: int, sequence_length: int) -> int:
  """Padded count of target positions (never more than the sequence)."""
  return min(_round_up(n, TARGET_BUCKETS), sequence_length)


def power_of_two_bucket(n: int) -> int:
  """Padded batch size or mask count."""
  return 1 << max(n - 1, 0).bit_length()


def pad_rows(texts: Sequence[Sequence[int]], rows: int, length: int,
             pad_id: int) -> tuple[np.ndarray, np.ndarray]:
  """Token ids [rows, length] and a 0/1 padding mask, right-padded.

  Rows beyond `texts` repeat the last text: a real text keeps every row
  well-formed (an empty row would start generation at position 0), and its
  results are simply not read.
  """
  ids = np.full((rows, length), pad_id, np.int32)
  padding = np.zeros((rows, length), np.int32)
  for row in range(rows):
    text = texts[min(row, len(texts) - 1)]
    ids[row, : len(text)] = text
    padding[row, : len(text)] = 1
  return ids, padding


@dataclasses.dataclass(frozen=True)
class Targets:
  """Target positions of K masks, padded to a bucket: [K, N] each."""

  positions: np.ndarray  # int32, 1 <= position < T
  valid: np.ndarray  # float32 0/1 weights


def mask_width(masks, length: int) -> int:
  """The target bucket of the widest of `masks` (BOS, entry 0, ignored)."""
  most = max(int(np.count_nonzero(m[1:])) for m in masks)
  return target_bucket(most, length)


def pad_targets(masks, length: int, count: int, width: int) -> Targets:
  """Target positions of each mask, padded to [count, width]."""
  positions = np.ones((count, width), np.int32)
  valid = np.zeros((count, width), np.float32)
  for k, mask in enumerate(masks):
    picked = np.flatnonzero(mask[1:length]) + 1
    positions[k, : len(picked)] = picked
    valid[k, : len(picked)] = mask[picked]
  return Targets(positions, valid)
