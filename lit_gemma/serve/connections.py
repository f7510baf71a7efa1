"""How the development server (werkzeug) treats connections.

Werkzeug's handler waits forever on a client that opens a connection and
sends nothing (or one byte a minute), holding a thread each time, and
names itself and Python's version in every answer (`Server: Werkzeug/3.1
Python/3.11`), and of several Content-Length headers passes on the last.
`Handler` gives each read and write on a connection `TIMEOUT_S` seconds,
answers as plain "lit-gemma", and passes several Content-Length values on
joined (which web/body.py refuses, as gunicorn does). gunicorn's settings
for the same live in deploy/cloudrun/gunicorn.conf.py.
"""

from __future__ import annotations

from werkzeug import serving

TIMEOUT_S = 60  # Per socket operation: an idle or stalled client is dropped.
SERVER_NAME = "lit-gemma"


class Handler(serving.WSGIRequestHandler):
  """Werkzeug's request handler with socket timeouts and no versions."""

  timeout = TIMEOUT_S  # socketserver sets it on the connection's socket.

  def version_string(self) -> str:
    return SERVER_NAME

  def make_environ(self):
    environ = super().make_environ()
    lengths = self.headers.get_all("Content-Length") or []
    if len(lengths) > 1:
      environ["CONTENT_LENGTH"] = ",".join(lengths)
    return environ


def handler(timeout_s: float = TIMEOUT_S) -> type[Handler]:
  """A `Handler` class whose connections time out after `timeout_s`."""
  if timeout_s == TIMEOUT_S:
    return Handler
  return type("Handler", (Handler,), {"timeout": timeout_s})
