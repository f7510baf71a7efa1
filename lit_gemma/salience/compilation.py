"""Compile once: JAX's persistent compilation cache, and a counter of the
programs JAX lowers, so that tests and benchmarks can prove that a request
in a known bucket compiles nothing.
"""

import contextlib
import pathlib
import threading

import jax

from lit_gemma import paths

_LOWERING_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_lock = threading.Lock()
_lowerings = 0
_listening = False


def _on_event(event: str, duration: float, **kwargs) -> None:
  del duration, kwargs
  global _lowerings
  if event == _LOWERING_EVENT:
    with _lock:
      _lowerings += 1


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
