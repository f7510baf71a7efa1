"""`lit-gemma serve`: the server, with launch.py's flags."""

from __future__ import annotations

from collections.abc import Sequence

from lit_gemma.cli import common


def register(commands) -> None:
  p = commands.add_parser(
      "serve", help="start the LIT server (the same as launch.py)",
      description="Start the LIT server; takes launch.py's flags "
      "(serve --helpfull lists them).", add_help=False)
  p.add_argument("flags", nargs="...")


def run(flags: Sequence[str]) -> int:
  """launch.py, with these flags; returns the exit status."""
  # pylint: disable=g-import-not-at-top
  from absl import app
  from absl import flags as absl_flags
  from lit_nlp import server_flags

  from lit_gemma.serve import config_flags
  from lit_gemma.serve import entry
  # pylint: enable=g-import-not-at-top

  config_flags.define_flags()
  absl_flags.adopt_module_key_flags(config_flags)
  absl_flags.adopt_module_key_flags(server_flags)
  try:
    app.run(entry.main, argv=[f"{common.PROG} serve", *flags],
            flags_parser=entry.parse_flags)
  except SystemExit as e:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  return 0
