"""Compile once: JAX's persistent compilation cache, and process-wide
counters of the programs JAX compiles, so that tests and benchmarks can
prove that nothing compiled while a request ran, in its thread or any
other. Each program that took long to trace and lower is logged (name,
seconds, running count): a slow click shows why in the server's log.
"""

import contextlib
import pathlib
import threading

import jax

from absl import logging

from lit_gemma import paths

_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
_LOWERING_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
# Compiling a lowered program, or loading it from the persistent cache.
_BACKEND_EVENT = "/jax/core/compile/backend_compile_duration"
_CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"
# Tracing + lowering at least this long is an engine program, worth a line
# (one-op eager programs take milliseconds and are only counted).
LOG_MIN_SECONDS = 0.5
_lock = threading.Lock()
_lowerings = 0
_in_flight = 0  # Programs lowered and not yet compiled, all threads.
_pending: dict[str, int] = {}  # The same, by program name.
_lowered: dict[str, tuple[float, float]] = {}  # Its last trace, lowering.
_listening = False
_thread = threading.local()  # This thread's lowerings and last trace.


def _on_event(event: str, duration: float, **kwargs) -> None:
  global _lowerings, _in_flight
  if event == _TRACE_EVENT:
    _thread.trace = getattr(_thread, "trace", 0.0) + duration  # nested jits
  elif event == _BACKEND_EVENT:
    name = kwargs.get("fun_name", "?")
    with _lock:  # Compiled, maybe on another thread than it was lowered.
      if _pending.get(name):
        _pending[name] -= 1
        _in_flight -= 1
      trace, lowering = _lowered.pop(name, (0.0, 0.0))
    hit, _thread.hit = getattr(_thread, "hit", False), False
    if trace + lowering + duration >= LOG_MIN_SECONDS:
      logging.info("lit-gemma: compiled program %s (tracing %.1f s, "
                   "lowering %.1f s, %s %.1f s); %d programs compiled so "
                   "far", name, trace, lowering,
                   "loading from the disk cache" if hit else "compiling",
                   duration, _lowerings)
  elif event == _LOWERING_EVENT:
    name = kwargs.get("fun_name", "?")
    trace, _thread.trace = getattr(_thread, "trace", 0.0), 0.0
    with _lock:
      _lowerings += 1
      _in_flight += 1
      _pending[name] = _pending.get(name, 0) + 1
      _lowered[name] = (trace, duration)
    _thread.count = thread_lowerings() + 1


def _on_cache_hit(event: str, **kwargs) -> None:
  del kwargs
  if event == _CACHE_HIT_EVENT:
    _thread.hit = True


def _listen() -> None:
  global _listening
  with _lock:
    if not _listening:
      jax.monitoring.register_event_duration_secs_listener(_on_event)
      jax.monitoring.register_event_listener(_on_cache_hit)
      _listening = True


def lowerings() -> int:
  """Programs lowered (jit cache misses) since the counter was installed."""
  _listen()
  return _lowerings


def thread_lowerings() -> int:
  """Programs lowered on this thread: a request's own compiles, whatever
  other threads (generation, warm-up) do meanwhile."""
  return getattr(_thread, "count", 0)


class Window:
  """Programs compiled from its creation to `counts()`: by any thread
  (those lowered before it and still compiling included), and by this
  thread."""

  def __init__(self):
    _listen()
    with _lock:
      self._start, self._in_flight = _lowerings, _in_flight
    self._here = thread_lowerings()

  def counts(self) -> tuple[int, int]:
    """(programs compiled by any thread, by this thread) so far."""
    with _lock:
      total = _lowerings - self._start + self._in_flight
    return total, thread_lowerings() - self._here


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
