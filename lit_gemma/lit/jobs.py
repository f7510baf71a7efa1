"""Long work off the request thread, so a costly map or column never ends in
LIT's "Unknown error" (a request cut off by a proxy's or gunicorn's
timeout).

A request asks `Jobs.result(key, compute, what)`: a result already computed
comes back at once; otherwise the computation is queued for one background
thread and the request waits for it at most `wait_s`. If it is not done by
then, the request is answered with a one-line 409 saying how far it got
(LIT's status bar shows it); the work goes on, and the same click (or
selection) a little later finds it done. A failed computation answers its
own error once and is forgotten, so the next request tries again.
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from absl import logging

from lit_gemma import errors

WAIT_S = 20.0  # most seconds a request waits for its job
KEPT_RESULTS = 512  # finished results kept (least recently used dropped)


class StillComputing(errors.RequestError):
  """The answer is being computed in the background; ask again later."""

  http_status = 409


class Stopped(Exception):
  """Raised into a computation by its progress callback at shutdown."""


@dataclasses.dataclass
class Job:
  """One queued or running computation and how far it got."""

  what: str
  compute: Callable[["Job"], Any]
  queued: float = dataclasses.field(default_factory=time.monotonic)
  started: float | None = None
  done: int = 0
  total: int = 0
  unit: str = "passes"
  finished: threading.Event = dataclasses.field(
      default_factory=threading.Event)
  result: Any = None
  error: BaseException | None = None

  stopping: threading.Event = dataclasses.field(
      default_factory=threading.Event)

  def progress(self, done: int, total: int) -> None:
    """A progress callback (ablation.Progress) for the computation; raises
    Stopped when the server shuts down."""
    self.done, self.total = done, total
    if self.stopping.is_set():
      raise Stopped(self.what)

  def status(self) -> str:
    if self.started is None:
      return (f"{self.what}: queued behind other background work "
              f"({time.monotonic() - self.queued:.0f} s)")
    counted = (f", {self.done} of {self.total} {self.unit} done"
               if self.total else "")
    return (f"{self.what}: computing in the background (started "
            f"{time.monotonic() - self.started:.0f} s ago{counted})")


class Jobs:
  """A background queue with bounded waits; thread-safe."""

  def __init__(self, wait_s: float = WAIT_S, name: str = "lit-gemma-jobs"):
    self.wait_s = wait_s
    self._name = name
    self._jobs: dict[Hashable, Job] = {}
    self._results: collections.OrderedDict[Hashable, Any] = (
        collections.OrderedDict())
    self._queue: queue.Queue = queue.Queue()
    self._lock = threading.Lock()
    self._thread: threading.Thread | None = None
    self._stopping = threading.Event()

  def _start(self) -> None:
    if self._thread is None:
      self._thread = threading.Thread(target=self._run, name=self._name,
                                      daemon=True)
      self._thread.start()
      atexit.register(self.stop)

  def stop(self, timeout: float = 60.0) -> None:
    """Ends the running computation at its next progress report and the
    thread with it (a thread killed inside a compiled call at exit aborts
    the process)."""
    self._stopping.set()
    self._queue.put(None)
    if self._thread is not None:
      self._thread.join(timeout)

  def _run(self) -> None:
    while True:
      item = self._queue.get()
      if item is None or self._stopping.is_set():
        return
      key, job = item
      job.stopping = self._stopping
      job.started = time.monotonic()
      try:
        job.result = job.compute(job)
      except Exception as e:  # pylint: disable=broad-except
        if not isinstance(e, (errors.UserError, Stopped)):
          logging.exception("lit-gemma: %s failed", job.what)
        job.error = e
      with self._lock:
        if job.error is None:
          self._results[key] = job.result
          while len(self._results) > KEPT_RESULTS:
            self._results.popitem(last=False)
        self._jobs.pop(key, None)
      job.finished.set()

  def peek(self, key: Hashable) -> Any | None:
    """A finished result, or None."""
    with self._lock:
      if key in self._results:
        self._results.move_to_end(key)
        return self._results[key]
    return None

  def submit(self, key: Hashable, compute: Callable[[Job], Any],
             what: str) -> Job | None:
    """Queues `compute` unless its result or job exists; returns the job
    (None when already finished)."""
    with self._lock:
      if key in self._results:
        return None
      job = self._jobs.get(key)
      if job is None:
        job = self._jobs[key] = Job(what, compute)
        self._queue.put((key, job))
        self._start()
    return job

  def result(self, key: Hashable, compute: Callable[[Job], Any],
             what: str) -> Any:
    """`compute(job)`'s result for `key`: kept, or computed in the
    background within `wait_s`, else StillComputing."""
    found = self.peek(key)
    if found is not None:
      return found
    job = self.submit(key, compute, what)
    if job is None:
      return self.peek(key)
    if not job.finished.wait(self.wait_s):
      raise StillComputing(f"{job.status()}; ask again (click the span, "
                           f"select the model) to see it")
    if job.error is not None:
      raise job.error
    return job.result

  @property
  def pending(self) -> int:
    with self._lock:
      return len(self._jobs)
