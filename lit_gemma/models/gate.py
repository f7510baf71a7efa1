"""One gate between the user's requests and background work.

A click must never queue behind work nobody asked for (a warm-up, responses
generated for the data table, data-table columns) nor share the CPU with it:
on 2 cores a background compile or forward pass beside a click is a slow
click. So every user request holds `foreground()` while it runs (the server
marks whole HTTP requests; direct calls on a `GemmaLM` mark themselves), and
background work runs in small units under `background()`, each of which
starts only once no request has run for `quiet_s` (a click's tokenizer
request and its salience request arrive a moment apart: one click). A click
then waits at most for the one unit already under way.

A request's `Window` says what happened while it ran, from process-wide
counters: programs compiled by any thread, background units that ran, and
time spent waiting for the salience engine; the server logs it per request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator

# Quiet time after the last request before background work resumes: the UI
# sends a click's requests in a burst (tokens, then salience).
QUIET_S = 0.5
# Longest a request's own unit waits for other requests to finish: they may
# be waiting for it (LIT's prediction cache lets one request compute a
# model's rows while others asking for the same model wait on its lock), so
# an unbounded wait could hold every request forever.
OWN_UNIT_WAIT_S = 2.0


@dataclasses.dataclass
class Window:
  """What happened while one request ran (filled in when it ends).

  Attributes:
    request: whether this is a user request (False: a background unit's own
      call, which logs nothing).
    seconds: how long it ran.
    compiled: programs compiled while it ran, by any thread (those still
      compiling when it arrived included).
    compiled_here: programs compiled by its own thread.
    background: background units that ran while it ran (one under way when
      it arrived included).
    waited: seconds its thread waited for the salience engine.
  """

  request: bool
  seconds: float = 0.0
  compiled: int = 0
  compiled_here: int = 0
  background: int = 0
  waited: float = 0.0

  def summary(self) -> str:
    """One line's worth, as the server logs it."""
    return (f"in {self.seconds:.2f} s: {self.compiled} programs compiled "
            f"during it in any thread ({self.compiled_here} on its own), "
            f"{self.background} background units ran during it, waited "
            f"{self.waited:.2f} s for the engine")


class Gate:
  """Counts user requests; background units wait until there are none."""

  def __init__(self, quiet_s: float = QUIET_S):
    self.quiet_s = quiet_s
    self._active = 0
    self._last = 0.0
    self._units_started = 0
    self._units_running = 0
    self._cond = threading.Condition()
    self._local = threading.local()

  # ------------------------------------------------------------- requests

  def in_background(self) -> bool:
    """Whether this thread runs a background unit (its calls are not
    requests)."""
    return getattr(self._local, "background", False)

  def _depth(self) -> int:
    return getattr(self._local, "depth", 0)

  @contextlib.contextmanager
  def foreground(self) -> Iterator[Window]:
    """Marks a user request while it runs; yields its `Window`. Inside a
    background unit it marks nothing (and its window is no request)."""
    if self.in_background():
      yield Window(request=False)
      return
    # pylint: disable=g-import-not-at-top  (JAX: loaded with the model)
    from lit_gemma.salience import compilation
    from lit_gemma.salience import engine_lock
    # pylint: enable=g-import-not-at-top
    window = Window(request=True)
    with self._cond:
      self._active += 1
      units = self._units_started
      window.background = self._units_running
    self._local.depth = self._depth() + 1
    compiles = compilation.Window()
    waited, begin = engine_lock.waited_seconds(), time.monotonic()
    try:
      yield window
    finally:
      self._local.depth -= 1
      window.seconds = time.monotonic() - begin
      window.waited = engine_lock.waited_seconds() - waited
      window.compiled, window.compiled_here = compiles.counts()
      with self._cond:
        window.background += self._units_started - units
        self._active -= 1
        self._last = time.monotonic()
        self._cond.notify_all()

  @property
  def active(self) -> int:
    """User requests running now."""
    with self._cond:
      return self._active

  @property
  def units_started(self) -> int:
    """Background units started since the process began."""
    with self._cond:
      return self._units_started

  # ----------------------------------------------------------- background

  def _idle(self) -> bool:
    return (self._active == 0
            and time.monotonic() - self._last >= self.quiet_s)

  def wait_idle(self, stop: threading.Event | None = None,
                most_s: float | None = None) -> bool:
    """Returns once no request has run for `quiet_s` (or `most_s` seconds
    have passed): True, or False when `stop` was set first."""
    deadline = None if most_s is None else time.monotonic() + most_s
    with self._cond:
      while not self._idle():
        if stop is not None and stop.is_set():
          return False
        now = time.monotonic()
        if deadline is not None and now >= deadline:
          break
        wait = max(self.quiet_s - (now - self._last), 0.05)
        if deadline is not None:
          wait = min(wait, deadline - now)
        self._cond.wait(timeout=wait)
      return not (stop is not None and stop.is_set())

  @contextlib.contextmanager
  def background(self, stop: threading.Event | None = None
                 ) -> Iterator[bool]:
    """One unit of background work: starts once the gate is idle, then
    runs however long it takes (keep units small). Yields False, without
    waiting longer, if `stop` is set first.

    A request's own thread may run background units (the data table's
    request generating responses in small calls): it steps back from the
    count while it waits and runs, so other clicks go first, but waits at
    most `OWN_UNIT_WAIT_S` for them (they may be waiting for it).
    """
    depth = self._depth()
    with self._cond:
      self._active -= depth
      self._cond.notify_all()
    try:
      if not self.wait_idle(stop, OWN_UNIT_WAIT_S if depth else None):
        yield False
        return
      with self._cond:
        self._units_started += 1
        self._units_running += 1
      self._local.background = True
      try:
        yield True
      finally:
        self._local.background = False
        with self._cond:
          self._units_running -= 1
          self._cond.notify_all()
    finally:
      with self._cond:
        self._active += depth


# The process's gate: the engine and the models are shared by every request.
GATE = Gate()
foreground = GATE.foreground
background = GATE.background
in_background = GATE.in_background
