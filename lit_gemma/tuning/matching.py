"""How two texts are compared for duplicates and contamination: words after
normalising case, spacing and punctuation, long shared word n-grams (n
scaled to the text's length), and the loaded Gemma's pooled hidden states
(cosine). hygiene.py and contamination.py share these, so a duplicate and an
overlap mean the same thing.
"""

from collections.abc import Callable, Sequence
import math
import re

import numpy as np

NGRAM_MAX = 13  # As n-gram decontamination of long texts uses.
NGRAM_MIN = 4
NGRAM_FRACTION = 0.6  # n = 60% of a query's words, within [4, 13].


def words(text: str) -> list[str]:
  """Lower-case words; apostrophes dropped, other punctuation splits."""
  return re.findall(r"\w+", text.casefold().replace("'", "").replace(
      "\u2019", ""))


def normalise(text: str) -> str:
  """The key two exact duplicates share."""
  return " ".join(words(text))


def ngram_size(word_count: int) -> int:
  """n for a query of this many words: 60% of it, within [4, 13]; a query
  of fewer than 4 words must appear whole."""
  n = max(NGRAM_MIN, math.ceil(NGRAM_FRACTION * word_count))
  return min(n, NGRAM_MAX, word_count)


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
  return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def shared_ngram(query: str, other: str) -> str | None:
  """The first of `query`'s n-grams (n scaled to its length) in `other`."""
  mine, theirs = words(query), words(other)
  if not mine:
    return None
  n = ngram_size(len(mine))
  found = _ngrams(theirs, n)
  for i in range(len(mine) - n + 1):
    if tuple(mine[i:i + n]) in found:
      return " ".join(mine[i:i + n])
  return None


def pool(hidden: np.ndarray) -> np.ndarray:
  """Mean of a text's final hidden states [T, d] (BOS already left out),
  weighted by position 1..T.

  In a causal model the state at token t has seen only tokens <= t, so the
  early states describe the opening words alone; a plain mean then tracks
  shared openings ("How do I shoot ...") and flags look-alikes. Weighting by
  position (as SGPT does) lets the states that have read the whole request
  count most: on the planted cases it separates paraphrases (>= 0.94) from
  look-alikes (<= 0.91), where the plain mean does not (0.93 vs 0.945).
  """
  if not len(hidden):
    return np.zeros(hidden.shape[1], np.float32)
  weights = np.arange(1, len(hidden) + 1, dtype=np.float32)
  return (hidden * weights[:, None]).sum(axis=0) / weights.sum()


def query_vectors(lm, texts: Sequence[str],
                  progress: Callable[[int, int], None] | None = None
                  ) -> np.ndarray:
  """[N, d] unit vectors of `pool()` over each text's final hidden states,
  BOS left out (it carries no content and dominates short texts).
  `progress(done, total)` follows the forward passes (one per distinct
  text: minutes for thousands of queries on a CPU)."""
  cache: dict[str, np.ndarray] = {}
  total = len(set(texts))
  rows = []
  for text in texts:
    if text not in cache:
      vector = pool(lm.engine.forward_hidden(lm.encode(text))[1:])
      cache[text] = vector / max(float(np.linalg.norm(vector)), 1e-12)
      if progress is not None:
        progress(len(cache), total)
    rows.append(cache[text])
  return np.stack(rows).astype(np.float32)


def similar_pairs(
    a: np.ndarray, b: np.ndarray | None, threshold: float
) -> list[tuple[int, int, float]]:
  """(i, j, cosine) with cosine >= threshold; within `a` when b is None."""
  same = b is None
  sims = a @ (a if same else b).T
  out = []
  for i, j in zip(*np.nonzero(sims >= threshold)):
    if same and j <= i:
      continue
    out.append((int(i), int(j), round(float(sims[i, j]), 4)))
  return sorted(out, key=lambda t: -t[2])
