"""The server's entry points: `main` (launch.py) and `get_wsgi_app`
(gunicorn, Cloud Run).

Both turn flags into one `ServerConfig` (server_flags.py) and serve what
`app_builder.build_app` builds. Importing this module defines no flags: the
entry points define them when they run.

Start-up errors (bad flags, a malformed dataset line, an unknown model
source) end the process with one line on stderr and exit status 1 (2 for a
flag that does not parse), never a traceback.

gunicorn serves `get_wsgi_app()`: it answers at once, with a health
endpoint, while the app is built (startup.py), and reads lit-gemma's flags
from $LIT_GEMMA_FLAGS as well as the command line.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence

from absl import flags
from absl import logging

from lit_gemma.serve import build
from lit_gemma.serve import config as config_lib
from lit_gemma import errors
from lit_gemma.lit import app as lit_app
from lit_gemma.serve import dev_server
from lit_gemma.serve import startup

PROG = config_lib.PROG
# gunicorn reads its own command line; lit-gemma's flags for get_wsgi_app()
# can come from this environment variable (the container sets it).
FLAGS_ENV = "LIT_GEMMA_FLAGS"


def _fail(message: str) -> None:
  print(f"{PROG}: {lit_app.one_line(message)}", file=sys.stderr, flush=True)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parser for launch.py (lit-gemma's flags defined first), but a
  bad flag is one line on stderr and exit 2."""
  from lit_gemma.serve import config_flags  # pylint: disable=g-import-not-at-top

  config_flags.define_flags()
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _fail(str(e))
    sys.exit(2)


def main(argv: Sequence[str]) -> int:
  """`launch.py`: build the app from parsed flags and serve it."""
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
    env_flags = shlex.split(os.environ.get(FLAGS_ENV, ""))
  except ValueError as e:
    raise SystemExit(f"{PROG}: ${FLAGS_ENV}: {e}") from None
  try:
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
  return startup.StartingApp(lambda: build.build_app(config), name=PROG)
