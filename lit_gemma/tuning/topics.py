"""Topics: the queries clustered on their query vectors (vectors.py), each
cluster named by its most typical words.

The vectors of a causal LM share one large common direction (every cosine
of the 270M's sits above 0.9), so the set's mean vector is taken off and
the rows made unit again before k-means (k-means++ seeded, a few restarts,
deterministic). k grows with the set: round(sqrt(n / 2)), from 2 to
MAX_TOPICS. A topic's name is its three words with the highest TF-IDF
within the topic (a word counts once a query; stop words left out).

A topic is *narrow* when it holds at least NARROW_SHARE of the queries and
at least NARROW_FACTOR times the share an even spread over the k topics
would give it: the set then teaches mostly one subject.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lit_gemma.tuning import matching

MAX_TOPICS = 30
NARROW_SHARE = 1 / 3
NARROW_FACTOR = 1.5
RESTARTS = 4
ITERATIONS = 50
NAME_WORDS = 3
STOP_WORDS = frozenset("""
a about after all also am an and any are as at be because been before being
but by can could did do does doing for from get give had has have having he
her here hers him his how i if in into is it its just let like make me more
most my no not of on one or our out please say she should so some tell than
that the their them then there these they this those through to too up us
very was way ways we were what when where which while who whom why will with
would write you your yours dont im ive cant wont isnt arent doesnt
""".split())


def topic_count(n: int) -> int:
  return max(2, min(MAX_TOPICS, round(math.sqrt(n / 2)))) if n >= 4 else 1


def centred(unit: np.ndarray) -> np.ndarray:
  """Rows without the set's mean, unit again."""
  if not len(unit):
    return unit
  rows = unit - unit.mean(axis=0, keepdims=True)
  return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def kmeans(rows: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
  """Cluster labels [n] (k-means++ on unit rows, best of RESTARTS)."""
  n = len(rows)
  if k <= 1 or n <= k:
    return np.arange(n) if n <= k and k > 1 else np.zeros(n, np.int64)
  rng = np.random.default_rng(seed)
  best, best_cost = None, np.inf
  for _ in range(RESTARTS):
    centres = [rows[rng.integers(n)]]
    for _ in range(1, k):
      dist = np.min(1.0 - rows @ np.stack(centres).T, axis=1).clip(0)
      total = dist.sum()
      pick = rng.choice(n, p=dist / total) if total > 0 else rng.integers(n)
      centres.append(rows[pick])
    centres = np.stack(centres)
    labels = np.zeros(n, np.int64)
    for _ in range(ITERATIONS):
      new = np.argmax(rows @ centres.T, axis=1)
      if _ and np.array_equal(new, labels):
        break
      labels = new
      for c in range(k):
        members = rows[labels == c]
        if len(members):
          mean = members.mean(axis=0)
          centres[c] = mean / max(np.linalg.norm(mean), 1e-12)
    cost = float(np.sum(1.0 - np.sum(rows * centres[labels], axis=1)))
    if cost < best_cost - 1e-9:
      best, best_cost = labels.copy(), cost
  # Number topics by size (largest first), ties by first query.
  sizes = collections.Counter(best.tolist())
  firsts = {c: int(np.argmax(best == c)) for c in sizes}
  order = sorted(sizes, key=lambda c: (-sizes[c], firsts[c]))
  renumber = {c: i for i, c in enumerate(order)}
  return np.array([renumber[c] for c in best.tolist()], np.int64)


def _content_words(text: str) -> set[str]:
  return {w for w in matching.words(text)
          if w not in STOP_WORDS and len(w) > 2 and not w.isdigit()}


def names(texts: Sequence[str], labels: np.ndarray) -> list[list[str]]:
  """The NAME_WORDS most typical words of each topic (TF-IDF)."""
  docs = [_content_words(t) for t in texts]
  df = collections.Counter(w for d in docs for w in d)
  out = []
  for c in range(int(labels.max()) + 1 if len(labels) else 0):
    tf = collections.Counter(w for d, l in zip(docs, labels) if l == c
                             for w in d)
    score = {w: n * math.log((1 + len(docs)) / (1 + df[w])) for w, n in
             tf.items()}
    out.append(sorted(score, key=lambda w: (-score[w], w))[:NAME_WORDS])
  return out


def topics(queries: Sequence, unit: np.ndarray) -> dict[str, Any]:
  """The topics of `queries` (their unit query vectors `unit`): per topic
  its name, size, share and rows; the label of each query; the narrow
  ones."""
  n = len(queries)
  k = topic_count(n)
  labels = kmeans(centred(unit), k) if n else np.zeros(0, np.int64)
  k = int(labels.max()) + 1 if n else 0
  words = names([q.text for q in queries], labels)
  found = []
  for c in range(k):
    rows = [queries[i].as_dict() for i in np.flatnonzero(labels == c)]
    share = len(rows) / n
    found.append({"topic": c + 1, "name": ", ".join(words[c]) or "(no words)",
                  "size": len(rows), "share": round(share, 4),
                  "narrow": bool(k > 1 and share >= NARROW_SHARE
                                 and share >= NARROW_FACTOR / k),
                  "rows": rows})
  return {"k": k, "labels": [int(c) + 1 for c in labels], "topics": found,
          "narrow": [t["topic"] for t in found if t["narrow"]]}


def label_of(topic: dict[str, Any]) -> str:
  """'topic 3: lock, neighbour, door' for columns and the map's legend."""
  return f"topic {topic['topic']}: {topic['name']}"
