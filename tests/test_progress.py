"""The one progress display (progress.py): what a user watching a long
command sees, on a terminal and in a log."""

import io
import re

from lit_gemma import progress


class _Terminal(io.StringIO):

  def isatty(self):
    return True


def test_a_log_gets_whole_lines_with_count_rate_and_the_end():
  log = io.StringIO()
  shown = progress.bar("batch", 5, done=1, unit="ex", stream=log, every_s=0)
  for _ in range(4):
    shown.update(1)
  shown.close()
  lines = log.getvalue().splitlines()
  assert "\r" not in log.getvalue()
  assert lines[0].startswith("batch:  20%") and " 1/5 " in lines[0]
  counts = [re.search(r" (\d)/5 ", line).group(1) for line in lines]
  assert counts == ["1", "2", "3", "4", "5"]  # each once, the end too
  assert re.search(r"5/5 \[[\d:]+<[\d:]+, +[\d.]+(ex/s|s/ex)\]$", lines[-1])


def test_a_log_line_every_so_often_and_at_the_end():
  log = io.StringIO()
  report = progress.callback("vectors", unit=" queries", stream=log,
                             every_s=3600)
  for done in range(1, 101):
    report(done, 100)
  lines = log.getvalue().splitlines()
  assert len(lines) == 2, lines  # the start and the end, not 100 lines
  assert " 0/100 " in lines[0] and lines[1].startswith("vectors: 100%")


def test_a_terminal_redraws_one_line():
  terminal = _Terminal()
  shown = progress.bar("batch", 3, unit="ex", stream=terminal)
  shown.update(3)
  shown.close()
  out = terminal.getvalue()
  assert out.count("\r") >= 2 and out.count("\n") == 1 and "3/3" in out
