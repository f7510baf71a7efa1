"""A WSGI app that answers at once while the real one is built.

gunicorn binds its port only after the WSGI app is returned, and building
lit-gemma's app (loading the model, compiling salience) takes from seconds
to minutes. Cloud Run's startup probe needs an answer meanwhile, so
`StartingApp` builds the app in a background thread and answers:

  - `HEALTH_PATH`: 503 while the app is built (the model loaded, the
    clicks' programs compiled: serve/build.py), 200 once it serves at full
    speed, 500 if the build failed;
  - any other path: 503 "starting" until the app is built, then the app.

The health path is not one ending in "z" (/healthz): Cloud Run reserves
some of those for itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from absl import logging

HEALTH_PATH = "/health"


def _answer(start_response, status: str, text: str, *extra_headers):
  body = text.encode()
  start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                          ("Content-Length", str(len(body))),
                          ("Cache-Control", "no-store"), *extra_headers])
  return [body]


class StartingApp:
  """Serves `build()`'s app once built; health and "starting" until then.

  Attributes:
    app: the built app, or None while it is built (or if the build failed).
  """

  def __init__(self, build: Callable[[], Any], name: str = "lit-gemma"):
    """Starts building.

    Args:
      build: returns the WSGI app, ready for traffic; runs in a background
        thread.
      name: for log lines and answers.
    """
    self.app = None
    self._name = name
    self._error: str | None = None
    self._built = threading.Event()
    self._thread = threading.Thread(target=self._build, args=(build,),
                                    name=f"{name}-start", daemon=True)
    self._thread.start()

  def _build(self, build) -> None:
    try:
      self.app = build()
    except BaseException as e:  # pylint: disable=broad-except
      self._error = " ".join(str(e).split()) or type(e).__name__
      logging.exception("%s: start-up failed: %s", self._name, self._error)
    finally:
      self._built.set()

  def health(self) -> tuple[int, str]:
    """(HTTP status, one line) for the startup probe."""
    if self._error is not None:
      return 500, f"{self._name}: start-up failed: {self._error}"
    if self.app is None:
      return 503, (f"{self._name}: starting (loading the model, compiling "
                   f"salience)")
    return 200, f"{self._name}: ready"

  def wait_ready(self, timeout: float) -> bool:
    """Blocks until health is 200 or failed, or `timeout` s; True if 200."""
    if not self._built.wait(timeout):
      return False
    return self.health()[0] == 200

  def __call__(self, environ, start_response):
    if environ.get("PATH_INFO", "").rstrip("/") == HEALTH_PATH:
      code, line = self.health()
      phrases = {200: "OK", 500: "INTERNAL SERVER ERROR",
                 503: "SERVICE UNAVAILABLE"}
      return _answer(start_response, f"{code} {phrases[code]}", line + "\n")
    if self.app is not None:
      return self.app(environ, start_response)
    code, line = self.health()
    status = "500 INTERNAL SERVER ERROR" if code == 500 else (
        "503 SERVICE UNAVAILABLE")
    # LIT's client shows the text before "Details:" in its status bar.
    return _answer(start_response, status,
                   f"{line}; try again shortly\n\nDetails: the server is not "
                   f"serving yet", ("Retry-After", "10"))
