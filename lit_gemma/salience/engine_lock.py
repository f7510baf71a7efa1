"""The engine's lock, timed: how long each thread waited for it.

One lock serializes the engine's calls. A click that waits for it waits
for someone else's work (another click, a warm-up, a background column), so
the wait is counted per thread and the server logs it beside each request:
a slow click then says what held it.
"""

import threading
import time

_waits = threading.local()


def waited_seconds() -> float:
  """Seconds this thread has waited for any engine's lock, in total."""
  return getattr(_waits, "seconds", 0.0)


class TimedLock:
  """A re-entrant lock that adds each wait to `waited_seconds()`."""

  def __init__(self):
    self._lock = threading.RLock()

  def __enter__(self):
    begin = time.monotonic()
    self._lock.acquire()
    _waits.seconds = waited_seconds() + time.monotonic() - begin
    return self

  def __exit__(self, *exc):
    self._lock.release()
    return False
