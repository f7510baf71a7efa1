"""Serving a built app on this machine: a threaded werkzeug server.

The launcher and the notebook widget serve with `make_server`; gunicorn
(Cloud Run) serves the WSGI app itself and does not use this module.
"""

from __future__ import annotations

import signal
import socket
import threading

from absl import logging

from lit_gemma.serve import connections
from lit_gemma import errors


def make_server(app, host: str = "127.0.0.1", port: int = 0):
  """A threaded werkzeug server for `app` (port 0: a free one), not yet
  serving: call `serve_forever()`, and `shutdown()` from another thread.

  One thread per request, so a long generation for the data table does not
  hold up a salience click (the model serializes its own work).
  """
  from werkzeug import serving  # pylint: disable=g-import-not-at-top

  family = socket.AF_INET6 if ":" in host else socket.AF_INET
  try:
    listener = socket.create_server((host, port), family=family)
  except OSError as e:
    raise errors.ConfigError(
        f"cannot listen on {host}:{port}: {e.strerror or e}") from None
  server = serving.make_server(host, listener.getsockname()[1], app,
                               threaded=True, fd=listener.fileno(),
                               request_handler=connections.Handler)
  listener.close()  # The server holds its own duplicate of the socket.
  return server


def _stop_on_sigterm() -> None:
  """SIGTERM (a container's or a test's stop) stops like Ctrl+C."""
  def stop(signum, frame):
    del signum, frame
    raise KeyboardInterrupt
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, stop)


def serve(app, host: str, port: int) -> None:
  """Serves `app` until Ctrl+C or SIGTERM."""
  server = make_server(app, host, port)
  _stop_on_sigterm()
  shown = f"[{host}]" if ":" in host else host
  logging.info("lit-gemma: serving http://%s:%d (Ctrl+C stops)", shown,
               server.port)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    logging.info("lit-gemma: stopped")
  finally:
    server.server_close()
