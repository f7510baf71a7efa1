"""HTTP helpers shared by the tests that talk to a running LIT server
(in-process, launch.py, gunicorn or a notebook widget)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port() -> int:
  """A loopback port nothing listens on (now)."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def request(url: str, endpoint: str, body=None, timeout: float = 300,
            **params) -> tuple[int, str]:
  """POSTs JSON as LIT's client does (GET without a body); (status, text)."""
  query = urllib.parse.urlencode(params)
  full = f"{url}{endpoint}" + (f"?{query}" if query else "")
  data = None if body is None else json.dumps(body).encode()
  req = urllib.request.Request(
      full, data=data, method="GET" if body is None else "POST",
      headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(req, timeout=timeout) as response:
      return response.status, response.read().decode()
  except urllib.error.HTTPError as e:
    return e.code, e.read().decode()


def send(served, method: str, path: str, query: str = "", body=None,
         headers=None):
  """(status, headers, JSON or text) of one raw request to `served` (an
  object with a `url`), sent as LIT's client sends its bodies."""
  host, port = served.url.removeprefix("http://").split(":")
  conn = http.client.HTTPConnection(host, int(port), timeout=60)
  if isinstance(body, (dict, list)):
    body = json.dumps(body)
  if isinstance(body, str):
    body = body.encode()
  conn.putrequest(method, path + (f"?{query}" if query else ""),
                  skip_host="Host" in (headers or {}))
  all_headers = {"Content-Type": "text/plain;charset=UTF-8",  # As LIT's client.
                 "Content-Length": str(len(body or b""))} | (headers or {})
  for name, value in all_headers.items():
    if value is not None:
      conn.putheader(name, value)
  conn.endheaders(body)
  response = conn.getresponse()
  text = response.read().decode()
  conn.close()
  try:
    answer = json.loads(text) if response.status == 200 else text
  except ValueError:
    answer = text
  return response.status, response.headers, answer


def ok(url: str, endpoint: str, body=None, **params):
  """The JSON answer of a request that must succeed."""
  status, text = request(url, endpoint, body, **params)
  assert status == 200, text
  return json.loads(text)


def assert_short_error(text: str, first_line: str | None = None) -> None:
  """What a user sees: one line, then LIT's "Details:", no traceback."""
  assert "Traceback" not in text and 'File "' not in text, text
  line, sep, _ = text.partition("\n\nDetails:")
  assert sep and "\n" not in line, text
  if first_line is not None:
    assert line == first_line


def new_input(data: dict) -> dict:
  """An example typed into the UI (not from a dataset), as LIT sends it."""
  example_id = f"new-{abs(hash(json.dumps(data, sort_keys=True)))}"
  return {"id": example_id, "data": dict(data, _id=example_id),
          "meta": {"added": True}}


def wait_for_info(url: str, process, log, seconds: float = 180) -> dict:
  """/get_info of a server `process` started (logging to `log`), once it
  answers; fails with the log if it exits or is not up in `seconds`."""
  deadline = time.monotonic() + seconds
  while True:
    assert process.poll() is None, log.read_text()
    try:
      return ok(url, "/get_info", {})
    except (urllib.error.URLError, ConnectionError):
      assert time.monotonic() < deadline, log.read_text()
      time.sleep(0.5)


def stop_server(process) -> None:
  """Stops a launched server: SIGTERM, then a kill after 60 s."""
  process.send_signal(signal.SIGTERM)
  try:
    process.wait(timeout=60)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()


@contextlib.contextmanager
def launched(tmp: pathlib.Path, flags, seconds: float = 240):
  """`launch.py FLAGS` on a free port with its own cache under `tmp`,
  logging to tmp/server.log; yields its URL once /get_info answers, and
  stops it afterwards."""
  import repo  # pylint: disable=g-import-not-at-top

  port, log = free_port(), tmp / "server.log"
  with open(log, "w") as out:
    process = subprocess.Popen(
        [sys.executable, str(repo.LAUNCH), *flags, f"--port={port}"],
        stdout=out, stderr=subprocess.STDOUT,
        env=dict(os.environ, LIT_GEMMA_CACHE=str(tmp / "cache")))
  try:
    url = f"http://127.0.0.1:{port}"
    wait_for_info(url, process, log, seconds=seconds)
    yield url
  finally:
    stop_server(process)
