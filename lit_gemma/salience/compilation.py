"""Compile once: JAX's persistent compilation cache, and a counter of the
programs JAX lowers, so that tests and benchmarks can prove that a request
in a known bucket compiles nothing. Each program that took long to trace
and lower is logged (name, seconds, running count): a slow click shows why
in the server's log.
"""

import contextlib
import pathlib
import threading
import time

import jax

from absl import logging

from lit_gemma import paths

_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
_LOWERING_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
# Tracing + lowering at least this long is an engine program, worth a line
# (one-op eager programs take milliseconds and are only counted).
LOG_MIN_SECONDS = 0.5
_lock = threading.Lock()
_lowerings = 0
_listening = False
_thread = threading.local()  # This thread's lowerings and last trace.


def _on_event(event: str, duration: float, **kwargs) -> None:
  global _lowerings
  if event == _TRACE_EVENT:
    _thread.trace = getattr(_thread, "trace", 0.0) + duration  # nested jits
  elif event == _LOWERING_EVENT:
    with _lock:
      _lowerings += 1
      total = _lowerings
    _thread.count = thread_lowerings() + 1
    trace, _thread.trace = getattr(_thread, "trace", 0.0), 0.0
    if trace + duration >= LOG_MIN_SECONDS:
      logging.info("lit-gemma: compiled program %s (tracing %.1f s, "
                   "lowering %.1f s); %d programs compiled so far",
                   kwargs.get("fun_name", "?"), trace, duration, total)


def _listen() -> None:
  global _listening
  with _lock:
    if not _listening:
      jax.monitoring.register_event_duration_secs_listener(_on_event)
      _listening = True


def lowerings() -> int:
  """Programs lowered (jit cache misses) since the counter was installed."""
  _listen()
  return _lowerings


def thread_lowerings() -> int:
  """Programs lowered on this thread: a request's own compiles, whatever
  other threads (generation, warm-up) do meanwhile."""
  return getattr(_thread, "count", 0)


class CompileCounter(contextlib.AbstractContextManager):
  """Counts the jit cache misses inside a `with` block (all threads)."""

  def __enter__(self):
    self._start = lowerings()
    self.count = 0
    return self

  def __exit__(self, *exc):
    self.count = lowerings() - self._start
    return False


def enable_persistent_cache(directory: pathlib.Path | None = None,
                            min_compile_seconds: float = 0.5) -> None:
  """Keeps compiled XLA programs on disk so a restart skips compiling.

  Programs that compile faster than `min_compile_seconds` are not worth a
  file each (eager one-op programs); the engine's programs take seconds.
  """
  directory = pathlib.Path(directory or paths.jax_cache_dir())
  directory.mkdir(parents=True, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", str(directory))
  jax.config.update("jax_persistent_cache_min_compile_time_secs",
                    min_compile_seconds)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  _listen()


@contextlib.contextmanager
def logged(what: str):
  """Logs `what`, its seconds and the programs this thread compiled for
  it: one line per request, which a test can read to prove it compiled
  nothing."""
  _listen()
  start, begin = thread_lowerings(), time.monotonic()
  yield
  logging.info("lit-gemma: %s in %.2f s, %d programs compiled during it "
               "(%d so far)", what, time.monotonic() - begin,
               thread_lowerings() - start, lowerings())
