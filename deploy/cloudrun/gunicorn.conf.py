"""gunicorn settings for lit-gemma on Cloud Run (see Dockerfile, deploy.sh).

One worker process: each worker loads its own copy of the model (about
1 GB for the embedded Gemma 3 270M in float32), and the work is CPU-bound,
so a second worker would only double the memory. Its threads (gthread)
let a page's many small requests, a salience click and a long generation
run side by side; the model serializes its own heavy work. deploy.sh sets
Cloud Run's --concurrency to the same number of threads.

The app is not preloaded in the master: JAX and XLA start threads when the
model loads, and a forked worker would not have them.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("LIT_GEMMA_THREADS", "8"))
preload_app = False
# The worker's heartbeat deadline; gthread beats from its main loop while
# threads serve, but keep it above Cloud Run's request timeout (deploy.sh
# --timeout=300) so no setting here cuts a request Cloud Run still allows.
timeout = 330
# Cloud Run waits 10 s after SIGTERM before it kills the instance.
graceful_timeout = 8
# No control socket (gunicorn >= 25 writes one under $HOME by default).
control_socket_disable = True
# Cloud Run logs every request itself; errors go to stderr.
accesslog = None
errorlog = "-"
# Idle keep-alive connections close after 5 s (a
# thread each while open); request lines and headers keep gunicorn's
# bounds (limit_request_line 4094, 100 fields of 8190 bytes); answers say
# only "Server: lit-gemma", no software version.
keepalive = 5
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
from gunicorn import util as _util  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position
from gunicorn.http import wsgi as _wsgi  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position
_wsgi.SERVER = "lit-gemma"  # What each answer's Server header says.


def _one_line_error(sock, status_int, reason, mesg):
  """gunicorn's answer to a request it cannot parse (a Transfer-Encoding
  beside a Content-Length, a bad header), in the form of lit-gemma's own:
  one line, then "Details:" (gunicorn's is an HTML page)."""
  line = " ".join(f"{reason}: {mesg}".split()) if mesg else reason
  text = (f"{line}\n\nDetails: the server refused the request before "
          f"reading it\n").encode("latin-1", "replace")
  head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
          f"Content-Type: text/plain; charset=utf-8\r\nServer: lit-gemma\r\n"
          f"Content-Length: {len(text)}\r\n\r\n").encode("latin-1")
  _util.write_nonblock(sock, head + text)


_util.write_error = _one_line_error
