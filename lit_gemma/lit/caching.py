"""The store behind LIT's prediction caches, bounded in size.

LIT 1.3.1's `CachingModelWrapper` stores each prediction under the `_id`
the client sends and never evicts. A client that sends its own `response`
(or anything else) under a real example's id would make everyone see its
prediction for that example, and any client could grow the cache forever.
Here every model shares one `PredictionStore`: keyed by (model, a hash of
every field of the input), least recently used entries dropped past a
count and a byte bound. The client's `_id` is never read, so a request can
only ever hit predictions computed from exactly what it sent.

`internals.ContentKeyedWrapper` is the LIT wrapper that uses it.
"""

from __future__ import annotations

import collections
import sys
import threading
from collections.abc import Hashable, MutableMapping
from typing import Any

import numpy as np

DEFAULT_MAX_MB = 256
DEFAULT_MAX_ENTRIES = 50_000


def size_of(value: Any) -> int:
  """About how many bytes `value` (a prediction: dicts, lists, strings,
  numbers, NumPy arrays) holds in memory."""
  if isinstance(value, np.ndarray):
    return value.nbytes + 112
  if isinstance(value, (str, bytes)):
    return sys.getsizeof(value)
  if isinstance(value, dict):
    return sys.getsizeof(value) + sum(
        size_of(k) + size_of(v) for k, v in value.items())
  if isinstance(value, (list, tuple)):
    return sys.getsizeof(value) + sum(size_of(v) for v in value)
  return sys.getsizeof(value)


class PredictionStore:
  """A thread-safe LRU map bounded by entry count and total bytes.

  An entry larger than the whole byte bound is not stored at all.
  """

  def __init__(self, max_bytes: int = DEFAULT_MAX_MB << 20,
               max_entries: int = DEFAULT_MAX_ENTRIES):
    self.max_bytes = max_bytes
    self.max_entries = max_entries
    self._entries: collections.OrderedDict[Hashable, tuple[Any, int]] = (
        collections.OrderedDict())
    self._bytes = 0
    self._lock = threading.Lock()

  def get(self, key: Hashable) -> Any | None:
    with self._lock:
      found = self._entries.get(key)
      if found is None:
        return None
      self._entries.move_to_end(key)
      return found[0]

  def put(self, key: Hashable, value: Any) -> None:
    size = size_of(value)
    with self._lock:
      old = self._entries.pop(key, None)
      if old is not None:
        self._bytes -= old[1]
      if size > self.max_bytes or self.max_entries < 1:
        return
      self._entries[key] = (value, size)
      self._bytes += size
      while (self._bytes > self.max_bytes
             or len(self._entries) > self.max_entries):
        _, (_, dropped) = self._entries.popitem(last=False)
        self._bytes -= dropped

  @property
  def nbytes(self) -> int:
    """The estimated bytes held (see `size_of`)."""
    with self._lock:
      return self._bytes

  def __len__(self) -> int:
    with self._lock:
      return len(self._entries)


def keep_newest(saved: MutableMapping, count: int) -> None:
  """Drops the oldest entries of an insertion-ordered dict past `count`
  (LIT's `/post_new_data` store, which never drops any)."""
  while len(saved) > count:
    del saved[next(iter(saved))]
