"""How two texts are compared for duplicates and contamination: words after
stripping chat markup (of every format) and normalising case, spacing and
punctuation, long shared word n-grams (n scaled to the text's length), and
the cosine of the loaded Gemma's query vectors (vectors.py). hygiene.py and
contamination.py share these, so a duplicate and an overlap mean the same
thing.
"""

from collections.abc import Iterator
import math
import re

import numpy as np

from lit_gemma.prompts import chat_formats

NGRAM_MAX = 13  # As n-gram decontamination of long texts uses.
NGRAM_MIN = 4
NGRAM_FRACTION = 0.6  # n = 60% of a query's words, within [4, 13].
_ROLES = "(?:user|model|system|assistant)"


def _markup_pattern() -> re.Pattern:
  """Every chat format's turn markers, a role name after a turn opener, and
  BOS/EOS spelled out."""
  openers, closers = set(), set()
  for chat in chat_formats.FORMATS.values():
    openers.add(chat.user_start.split("user")[0])
    closers.add(chat.turn_end.strip())
  opener = "|".join(re.escape(o) for o in sorted(openers))
  closer = "|".join(re.escape(c) for c in sorted(closers))
  return re.compile(rf"(?:{opener}){_ROLES}?[ \t]*\n?|(?:{closer})\n?|<bos>|"
                    r"<eos>")


_MARKUP = _markup_pattern()


def strip_markup(text: str) -> str:
  """`text` without chat turn markers (Gemma 1-3, Gemma 4), role names after
  them, or spelled-out BOS/EOS; the turns' texts kept, trimmed."""
  return _MARKUP.sub("\n", text).strip() if "<" in text else text


def words(text: str) -> list[str]:
  """Lower-case words of the text without markup; apostrophes dropped,
  other punctuation splits."""
  return re.findall(r"\w+", strip_markup(text).casefold().replace(
      "'", "").replace("\u2019", ""))


def normalise(text: str) -> str:
  """The key two exact duplicates share."""
  return " ".join(words(text))


def ngram_size(word_count: int) -> int:
  """n for a query of this many words: 60% of it, within [4, 13]; a query
  of fewer than 4 words must appear whole."""
  n = max(NGRAM_MIN, math.ceil(NGRAM_FRACTION * word_count))
  return min(n, NGRAM_MAX, word_count)


def _ngrams(tokens, n: int) -> set[tuple[str, ...]]:
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


def _blocks(count: int, size: int = 1024) -> Iterator[slice]:
  for start in range(0, count, size):
    yield slice(start, min(start + size, count))


def similar_pairs(
    a: np.ndarray, b: np.ndarray | None, threshold: float
) -> list[tuple[int, int, float]]:
  """(i, j, cosine) with cosine >= threshold, highest first; within `a`
  (i < j) when b is None. Compared a block of rows at a time, so 10,000
  queries never hold a 10,000 x 10,000 matrix."""
  same = b is None
  other = a if same else b
  out = []
  for rows in _blocks(len(a)):
    sims = a[rows] @ other.T
    for i, j in zip(*np.nonzero(sims >= threshold)):
      i = int(i) + rows.start
      if same and j <= i:
        continue
      out.append((i, int(j), round(float(sims[i - rows.start, j]), 4)))
  return sorted(out, key=lambda t: (-t[2], t[0], t[1]))


def nearest(a: np.ndarray, b: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
  """For each row of `a`: (index, cosine) of its most similar row of `b`
  (of `a` itself, other than the row, when b is None); -1 and -1.0 when
  there is none."""
  same = b is None
  other = a if same else b
  index = np.full(len(a), -1, np.int64)
  best = np.full(len(a), -1.0, np.float32)
  if not len(other):
    return index, best
  for rows in _blocks(len(a)):
    sims = a[rows] @ other.T
    if same:
      sims[np.arange(sims.shape[0]), np.arange(rows.start, rows.stop)] = -2
    index[rows] = sims.argmax(axis=1)
    best[rows] = sims.max(axis=1)
  index[best <= -2] = -1
  return index, np.maximum(best, -1.0)
