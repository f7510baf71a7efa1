"""`lit-gemma serve`: the server, with launch.py's flags."""

from __future__ import annotations

from collections.abc import Sequence

from lit_gemma.cli import common


def register(commands) -> None:
  p = commands.add_parser(
      "serve", help="start the LIT server (the same as launch.py)",
      description="Start the LIT server; takes launch.py's flags "
      "(serve --help lists them).", add_help=False)
  p.add_argument("flags", nargs="...")


def run(flags: Sequence[str]) -> int:
  """launch.py, with these flags; returns the exit status."""
  from lit_gemma.serve import entry  # pylint: disable=g-import-not-at-top

  return entry.run(flags, prog=f"{common.PROG} serve")
