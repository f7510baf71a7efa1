"""Query vectors: the loaded Gemma's reading of each query as one unit
vector, shared by near duplicates, topic clusters, contamination and the
data map, so that all four mean the same thing.

A query's tokens (BOS first; chat markup of every format stripped, see
matching.strip_markup) run through the first `depth_for(lm)` decoder blocks
(13 of the embedded 270M's 18). Each token's state is scaled to unit RMS, so
that no single large dimension rules the cosine, and the states are pooled
by a mean weighted by position 1..T, BOS left out: in a causal model the
state at token t has read only tokens <= t, so the later states, which have
read the whole request, count most (as SGPT does).

Why 13 blocks and not all 18: on the planted paraphrase sets
(tuning/planted/) the states after 13 blocks separate paraphrases from
look-alikes at least as well as the final ones, for 72% of the arithmetic
(`benchmarks/hygiene.py --depths` prints the figures per depth). Families
whose forward pass has no partial stack (Gemma 4, Gemma 3n) use all blocks;
every threshold is calibrated per model anyway (calibration.py).

Vectors are cached by text per model (bounded), so a tuning set and its
evaluation set, the report and the data-table columns compute each once.
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Callable, Sequence

import numpy as np

from lit_gemma.tuning import matching

# Share of a model's decoder blocks the vectors read (13 of 18 on the 270M).
DEPTH_FRACTION = 0.72
CACHE_ENTRIES = 50_000  # ~128 MiB of 640-wide vectors per model

Progress = Callable[[int, int], None]

_LOCK = threading.Lock()
_CACHES: "weakref.WeakKeyDictionary[object, _Cache]" = (
    weakref.WeakKeyDictionary())


class _Cache:
  """One model's vectors by text (least recently used dropped) and its
  batched hidden-state runner."""

  def __init__(self, lm):
    # Imported here: the text-only review never loads JAX.
    from lit_gemma.salience import hidden as hidden_lib  # pylint: disable=g-import-not-at-top
    self.runner = hidden_lib.HiddenStates(lm.engine)
    self.vectors: collections.OrderedDict[str, np.ndarray] = (
        collections.OrderedDict())

  def get(self, text: str) -> np.ndarray | None:
    found = self.vectors.get(text)
    if found is not None:
      self.vectors.move_to_end(text)
    return found

  def put(self, text: str, vector: np.ndarray) -> None:
    self.vectors[text] = vector
    while len(self.vectors) > CACHE_ENTRIES:
      self.vectors.popitem(last=False)


def _cache(lm) -> _Cache:
  with _LOCK:
    if lm not in _CACHES:
      _CACHES[lm] = _Cache(lm)
    return _CACHES[lm]


def depth_for(lm) -> int:
  """Decoder blocks the vectors of `lm` read."""
  layers = lm.engine.forward.layer_count
  return max(1, min(layers, round(DEPTH_FRACTION * layers)))


def pool(hidden: np.ndarray) -> np.ndarray:
  """One vector from a text's states [T, d] (BOS already left out): each
  state at unit RMS, then their mean weighted by position 1..T."""
  if not len(hidden):
    return np.zeros(hidden.shape[1], np.float32)
  hidden = hidden / np.sqrt(np.mean(np.square(hidden), axis=-1,
                                    keepdims=True) + 1e-12)
  weights = np.arange(1, len(hidden) + 1, dtype=np.float32)
  return (hidden * weights[:, None]).sum(axis=0) / weights.sum()


def unit(vector: np.ndarray) -> np.ndarray:
  return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(
      np.float32)


def query_vectors(lm, texts: Sequence[str], progress: Progress | None = None,
                  depth: int | None = None) -> np.ndarray:
  """[N, d] unit vectors, one per text (markup stripped first).

  Distinct uncached texts run in batched forward passes, sorted by length;
  `progress(done, total)` follows them (total: the texts computed now).
  `depth` overrides `depth_for(lm)` (benchmarks compare depths; such
  vectors are not cached)."""
  cache = _cache(lm)
  cached = depth is None
  depth = depth_for(lm) if depth is None else depth
  keys = [matching.strip_markup(t) for t in texts]
  with _LOCK:
    found = {k: v for k in set(keys)
             if cached and (v := cache.get(k)) is not None}
  missing = [k for k in dict.fromkeys(keys) if k not in found]
  if missing:
    token_ids = [lm.encode(k) for k in missing]
    if progress is not None:
      progress(0, len(missing))
    for done, (i, states) in enumerate(cache.runner(token_ids, depth), 1):
      found[missing[i]] = unit(pool(states[1:]))
      if progress is not None:
        progress(done, len(missing))
    if cached:
      with _LOCK:
        for k in missing:
          cache.put(k, found[k])
  if not keys:
    return np.zeros((0, int(lm.engine.forward.backbone.hidden_dim)),
                    np.float32)
  return np.stack([found[k] for k in keys]).astype(np.float32)
