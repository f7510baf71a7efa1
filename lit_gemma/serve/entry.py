"""The server's entry points: `run` (launch.py and `lit-gemma serve`) and
`get_wsgi_app` (gunicorn, Cloud Run).

Both turn flags into one `ServerConfig` (config_flags.py) and serve what
`build.build_app` builds. Importing this module defines no flags: the
entry points define them when they run.

Start-up errors (bad flags, a malformed dataset line, an unknown model
source) end the process with one line on stderr and exit status 1 (2 for a
flag that does not parse), never a traceback.

gunicorn serves `get_wsgi_app()`: it answers at once, with a health
endpoint, while the app is built (startup.py), and reads lit-gemma's flags
from $LIT_GEMMA_FLAGS as well as the command line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from absl import app as absl_app
from absl import flags
from absl import logging

from lit_gemma.serve import build
from lit_gemma.serve import config as config_lib
from lit_gemma import errors
from lit_gemma.lit import app as lit_app
from lit_gemma.serve import dev_server
from lit_gemma.serve import settings
from lit_gemma.serve import startup

PROG = config_lib.PROG
DESCRIPTION = (
    "Serves Gemma in LIT's prompt-debugging UI (sequence salience: which "
    "words of a prompt drove the chosen part of the answer). launch.py and "
    "`lit-gemma serve` take these flags; gunicorn "
    "(lit_gemma.serve.entry:get_wsgi_app()) reads them from "
    "$LIT_GEMMA_FLAGS.")
# absl's own help flags, answered with the served flags only.
_HELP = ("--help", "-help", "-h", "-?", "--helpshort", "-helpshort")


def _fail(message: str) -> None:
  print(f"{PROG}: {lit_app.one_line(message)}", file=sys.stderr, flush=True)


def run(argv: Sequence[str], prog: str) -> int:
  """launch.py and `lit-gemma serve`: parse `argv` (the flags, without the
  program), build the app and serve it; returns the exit status."""
  from lit_gemma.serve import config_flags  # pylint: disable=g-import-not-at-top

  config_flags.define_flags()
  try:
    absl_app.run(main, argv=[prog, *argv],
                 flags_parser=lambda args: parse_flags(args, prog))
  except SystemExit as e:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  return 0


def help_text(prog: str) -> str:
  """What `--help` prints: the served flags (absl's --helpfull: all)."""
  from lit_gemma.serve import config_flags  # pylint: disable=g-import-not-at-top

  heading = f"{prog} flags"
  for flag in config_flags.served_flags():
    flags.FLAGS.register_key_flag_for_module(heading, flag)
  listed = flags.FLAGS.module_help(heading).strip("\n").split("\n", 1)[1]
  description = flags.text_wrap(DESCRIPTION, indent="")
  return (f"usage: {prog} [flags]\n\n{description}\n\nflags "
          f"(--helpfull lists JAX's and absl's too):\n{listed}\n")


def parse_flags(argv: list[str], prog: str = PROG) -> list[str]:
  """absl's parser (lit-gemma's flags defined first), but a bad flag is one
  line on stderr and exit 2, and --help lists the served flags."""
  from lit_gemma.serve import config_flags  # pylint: disable=g-import-not-at-top

  config_flags.define_flags()
  flags_given = argv[1:argv.index("--")] if "--" in argv else argv[1:]
  if any(arg.partition("=")[0] in _HELP for arg in flags_given):
    sys.stdout.write(help_text(prog))
    sys.exit(0)
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _fail(str(e))
    sys.exit(2)


def main(argv: Sequence[str]) -> int:
  """Builds the app from the parsed flags and serves it (under absl's
  `app.run`, see `run`)."""
  from lit_gemma.serve import config_flags  # pylint: disable=g-import-not-at-top

  if len(argv) > 1:
    _fail(f"unexpected arguments {' '.join(argv[1:])!r}; flags start with --")
    return 2
  server_type = flags.FLAGS.server_type
  try:
    if server_type not in ("default", "basic", "prebake"):
      raise errors.ConfigError(
          f"--server_type={server_type}: launch.py serves with 'default' or "
          f"runs start-up work with 'prebake'; gunicorn uses "
          f"lit_gemma.serve.entry:get_wsgi_app()")
    config = config_flags.config_from_flags()
    app = build.build_app(config)
    if server_type == "prebake":
      if app.warm_up_thread is not None:
        app.warm_up_thread.join()
      logging.info("%s: start-up work done (prebake); exiting", PROG)
      return 0
    dev_server.serve(app, config.host, config.port)
  except errors.UserError as e:
    _fail(str(e))
    return 1
  except KeyboardInterrupt:
    _fail("interrupted during start-up")
    return 130
  except Exception as e:  # pylint: disable=broad-except
    logging.debug("start-up failed", exc_info=True)
    first = (str(e).strip().splitlines() or [""])[0]
    _fail(f"start-up failed: {type(e).__name__}: {first} (run with "
          f"--verbosity=1 to see the traceback)")
    return 1
  return 0


def get_wsgi_app() -> startup.StartingApp:
  """The app for gunicorn (`lit_gemma.serve.entry:get_wsgi_app()`).

  Configured by the lit-gemma flags in $LIT_GEMMA_FLAGS and then in sys.argv
  (gunicorn's own are ignored; a flag given in both: sys.argv wins). Bad
  flags stop it at once with one line; the app itself is built in the
  background while /health answers 503 (see startup.py).
  """
  from lit_gemma.serve import config_flags  # pylint: disable=g-import-not-at-top

  config_flags.define_flags()
  try:
    env_flags = settings.env_flags()
    flags.FLAGS([sys.argv[0], *env_flags, *sys.argv[1:]], known_only=True)
    config = config_flags.config_from_flags()
  except (flags.Error, errors.UserError) as e:
    raise SystemExit(f"{PROG}: {lit_app.one_line(e)}") from None
  # As launch.py logs under absl.app.run: INFO lines (loading, warm-up) on
  # stderr, unless --verbosity says otherwise.
  logging.use_absl_handler()
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.INFO)
  if not config.team_mode:
    logging.warning("%s: serving without --team_mode: anyone who can reach "
                    "this server can use every LIT endpoint", PROG)
  return startup.StartingApp(lambda: build.build_app(config),
                             ready=lit_app.LitGemmaApp.ready, name=PROG)
