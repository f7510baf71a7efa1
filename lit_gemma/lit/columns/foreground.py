"""Foreground first: background work (the part-share columns) waits while
the UI's requests run.

Every LIT model a click or the data table reaches is wrapped in
`Foreground`, which counts the requests in flight on one shared `Gate`.
Background workers call `Gate.wait_idle()` between items, so a click never
queues behind them for more than the one item under way.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator

from lit_nlp.api import model as lit_model

# Quiet time after the last foreground request before background work
# resumes: the UI often sends a burst (tokens, then salience).
QUIET_S = 0.5


class Gate:
  """Counts foreground requests; background work waits for none."""

  def __init__(self, quiet_s: float = QUIET_S):
    self.quiet_s = quiet_s
    self._active = 0
    self._last = 0.0
    self._cond = threading.Condition()

  @contextlib.contextmanager
  def foreground(self) -> Iterator[None]:
    with self._cond:
      self._active += 1
    try:
      yield
    finally:
      with self._cond:
        self._active -= 1
        self._last = time.monotonic()
        self._cond.notify_all()

  @property
  def active(self) -> int:
    with self._cond:
      return self._active

  def wait_idle(self, stop: threading.Event | None = None) -> None:
    """Returns once no foreground request has run for `quiet_s` (or when
    `stop` is set)."""
    with self._cond:
      while not (stop is not None and stop.is_set()):
        quiet = time.monotonic() - self._last
        if self._active == 0 and quiet >= self.quiet_s:
          return
        self._cond.wait(timeout=max(self.quiet_s - quiet, 0.05))


class Foreground(lit_model.ModelWrapper):
  """A LIT model whose predictions count as foreground on `gate`."""

  def __init__(self, model: lit_model.Model, gate: Gate):
    super().__init__(model)
    self.gate = gate

  def predict(self, inputs: Iterable[dict], *args, **kw) -> list[dict]:
    with self.gate.foreground():
      return list(self.wrapped.predict(inputs, *args, **kw))
