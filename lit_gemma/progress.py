"""One progress display for long work (batch, hygiene, and any long command
added later): tqdm's bar on stderr, with a count, a rate and the time
left.

On a terminal the bar redraws in place. In a log (a file, a pipe, Cloud
Run's logs) a redrawn line would pile up as carriage returns, so there it
is a whole line every `every_s` seconds and one at the end, never the same
count twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import tqdm

LOG_EVERY_S = 10.0


class _LogLines:
  """tqdm's output as whole lines: each redraw of the bar becomes a line,
  unless it shows the count the previous line showed."""

  def __init__(self, stream, initial: int):
    self.stream = stream
    self.bar: tqdm.tqdm | None = None  # Set once tqdm has drawn it first.
    self._initial = initial
    self._last: int | None = None

  def write(self, text: str) -> None:
    line = text.replace("\r", "").rstrip()
    count = self._initial if self.bar is None else self.bar.n
    if line and count != self._last:
      self.stream.write(line + "\n")
      self._last = count

  def flush(self) -> None:
    self.stream.flush()


def bar(what: str, total: int | None, *, done: int = 0, unit: str = "it",
        stream=None, every_s: float = LOG_EVERY_S) -> tqdm.tqdm:
  """A started bar for `total` steps (`done` of them done before: they do
  not count towards the rate); `update(n)` it, then `close()` it."""
  stream = stream or sys.stderr
  if hasattr(stream, "isatty") and stream.isatty():
    return tqdm.tqdm(total=total, initial=done, desc=what, unit=unit,
                     file=stream, dynamic_ncols=True)
  lines = _LogLines(stream, done)
  shown = tqdm.tqdm(total=total, initial=done, desc=what, unit=unit,
                    file=lines, mininterval=every_s, ascii=True, ncols=80,
                    delay=0)
  lines.bar = shown
  return shown


def callback(what: str, unit: str = "it", stream=None,
             every_s: float = LOG_EVERY_S) -> Callable[[int, int], None]:
  """A `progress(done, total)` for code that reports counts (tuning's
  forward passes): a bar opened at the first call and closed when done
  reaches total."""
  state: dict[str, tqdm.tqdm] = {}

  def report(done: int, total: int) -> None:
    shown = state.get("bar")
    if shown is None:
      shown = state["bar"] = bar(what, total, unit=unit, stream=stream,
                                 every_s=every_s)
    shown.update(done - shown.n)
    if done >= total:
      shown.close()
      del state["bar"]

  return report
