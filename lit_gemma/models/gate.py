"""Requests before warm-up: the background warm-up runs only between
requests, one small unit (one bucket, one span) at a time, so a click waits
at most for the unit already running, never for the whole warm-up.

Requests mark themselves with `request()`; the warm-up thread calls
`wait_for_idle()` before each unit and holds `unit()` while it runs.
"""

from __future__ import annotations

import contextlib
import threading

_cond = threading.Condition()
_active = 0
_local = threading.local()


def in_warm_up() -> bool:
  """Whether this thread is the warm-up's (its calls are not requests)."""
  return getattr(_local, "warming", False)


@contextlib.contextmanager
def request():
  """Marks a user request as running: warm-up starts no unit meanwhile."""
  global _active
  if in_warm_up():
    yield
    return
  with _cond:
    _active += 1
  try:
    yield
  finally:
    with _cond:
      _active -= 1
      _cond.notify_all()


def active_requests() -> int:
  with _cond:
    return _active


@contextlib.contextmanager
def unit():
  """One warm-up unit: waits until no request runs, then runs."""
  with _cond:
    _cond.wait_for(lambda: _active == 0)
  _local.warming = True
  try:
    yield
  finally:
    _local.warming = False
