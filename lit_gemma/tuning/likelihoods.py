"""Likelihoods the label checks read, batched and cached by text.

  mean_log_likelihood(prompt, text)  mean over the text's tokens of
      log p(token | everything before it), through the salience engine's
      forward pass (GemmaLM.score_batch), in chunks sorted by length
  mean_pmi(prompt, text)  the same minus the text's mean log-likelihood
      with no prompt (BOS only): how much the prompt, not the text's own
      fluency, makes the text likely. A short generic answer ("I can't help
      with that.") is likely under any prompt; its PMI is not high.

Each (prompt, text) is scored once per model (bounded cache).
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Callable, Sequence

import numpy as np

CACHE_ENTRIES = 100_000
CHUNK = 16  # texts per score_batch call (sorted by length)

Progress = Callable[[int, int], None]
_LOCK = threading.Lock()
_CACHES: "weakref.WeakKeyDictionary[object, collections.OrderedDict]" = (
    weakref.WeakKeyDictionary())


def _cache(lm) -> collections.OrderedDict:
  with _LOCK:
    if lm not in _CACHES:
      _CACHES[lm] = collections.OrderedDict()
    return _CACHES[lm]


def mean_log_likelihoods(lm, pairs: Sequence[tuple[str, str]],
                         progress: Progress | None = None) -> np.ndarray:
  """Mean log-likelihood of each (prompt, text)'s text ([N] float; 0 for
  an empty text)."""
  cache = _cache(lm)
  with _LOCK:
    found = {p: cache[p] for p in set(pairs) if p in cache}
  todo = sorted((p for p in dict.fromkeys(pairs) if p not in found),
                key=lambda p: len(p[0]) + len(p[1]))
  if todo and progress is not None:
    progress(0, len(todo))
  for start in range(0, len(todo), CHUNK):
    chunk = todo[start:start + CHUNK]
    for pair, logprobs in zip(chunk, lm.score_batch(list(chunk))):
      found[pair] = float(np.mean(logprobs)) if len(logprobs) else 0.0
    if progress is not None:
      progress(min(start + CHUNK, len(todo)), len(todo))
  with _LOCK:
    for pair in todo:
      cache[pair] = found[pair]
    while len(cache) > CACHE_ENTRIES:
      cache.popitem(last=False)
  return np.array([found[p] for p in pairs], np.float64)


def mean_pmi(lm, pairs: Sequence[tuple[str, str]],
             progress: Progress | None = None) -> np.ndarray:
  """Mean log-likelihood given the prompt minus given nothing."""
  both = mean_log_likelihoods(
      lm, list(pairs) + [("", text) for _, text in pairs], progress)
  return both[:len(pairs)] - both[len(pairs):]
