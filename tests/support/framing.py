"""Requests whose body framing is conflicting or malformed, sent byte for
byte (http.client would fix them), and what a server must answer: 400 in
one line. Shared by the development servers' hostile tests and the
gunicorn (Cloud Run) tests."""

from __future__ import annotations

import socket

_BODY = b'{"config": {}}'


def _chunked(body: bytes) -> bytes:
  return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


# (name, extra header lines, body bytes, half-close after sending,
#  message of the development server, message of gunicorn)
CASES = [
    ("chunked beside Content-Length, bad chunks",
     "Transfer-Encoding: chunked\r\nContent-Length: 10\r\n",
     b"zz\r\nhello\r\n0\r\n\r\n", False,
     r"the request has both Transfer-Encoding and Content-Length; send one "
     r"of them",
     r"Bad Request: Invalid HTTP Header: 'CONTENT-LENGTH'"),
    ("chunked beside Content-Length, valid chunks",
     f"Transfer-Encoding: chunked\r\nContent-Length: {len(_BODY)}\r\n",
     _chunked(_BODY), False,
     r"the request has both Transfer-Encoding and Content-Length; send one "
     r"of them",
     r"Bad Request: Invalid HTTP Header: 'CONTENT-LENGTH'"),
    ("chunk size not a number", "Transfer-Encoding: chunked\r\n",
     b"zz\r\n" + _BODY + b"\r\n0\r\n\r\n", False,
     r"the chunked body is malformed \(.+\)",
     r"the chunked body is malformed \(.+\)"),
    ("negative chunk size", "Transfer-Encoding: chunked\r\n",
     b"-5\r\nhello\r\n0\r\n\r\n", False,
     r"the chunked body is malformed \(.+\)",
     r"the chunked body is malformed \(.+\)"),
    ("chunk longer than its size", "Transfer-Encoding: chunked\r\n",
     b"2\r\n" + _BODY + b"\r\n0\r\n\r\n", False,
     r"the chunked body is malformed \(.+\)",
     r"the chunked body is malformed \(.+\)"),
    ("chunks end early", "Transfer-Encoding: chunked\r\n",
     b"40\r\n" + _BODY, True,
     r"the chunked body is malformed \(.+\)",
     r"the chunked body is malformed \(.+\)"),
    ("body shorter than Content-Length", "Content-Length: 100\r\n", _BODY,
     True,
     rf"the body ended after {len(_BODY)} of the 100 bytes its "
     r"Content-Length declares",
     rf"the body ended after {len(_BODY)} of the 100 bytes its "
     r"Content-Length declares"),
    ("two Content-Lengths", f"Content-Length: {len(_BODY)}\r\n"
     f"Content-Length: {len(_BODY) + 1}\r\n", _BODY + b" ", False,
     rf"Content-Length '{len(_BODY)},{len(_BODY) + 1}' is not a whole "
     r"number of bytes",
     r"Bad Request: Invalid HTTP Header: 'CONTENT-LENGTH'"),
    ("Content-Length not a number", "Content-Length: 1e3\r\n", _BODY,
     False, r"Content-Length '1e3' is not a whole number of bytes",
     r"Bad Request: Invalid HTTP Header: 'CONTENT-LENGTH'"),
    ("gzip Transfer-Encoding", "Transfer-Encoding: gzip\r\n", _BODY, True,
     r"Transfer-Encoding 'gzip' is not read here; send the body chunked or "
     r"with a Content-Length",
     r"Bad Request: Invalid HTTP Header: 'TRANSFER-ENCODING'"),
]
IDS = [case[0] for case in CASES]


def send(url: str, headers: str, body: bytes, half_close: bool,
         path: str = "/get_info") -> tuple[int, dict[str, str], str]:
  """(status, headers, body text) of one raw POST to the server at `url`;
  `half_close` stops sending after the body (the client gave up)."""
  host, port = url.removeprefix("http://").split(":")
  with socket.create_connection((host, int(port)), timeout=30) as conn:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: text/plain\r\n{headers}Connection: close\r\n\r\n")
    conn.sendall(head.encode() + body)
    if half_close:
      conn.shutdown(socket.SHUT_WR)
    reply = b""
    while data := conn.recv(65536):
      reply += data
  head, _, text = reply.partition(b"\r\n\r\n")
  status_line, *lines = head.decode("latin-1").split("\r\n")
  answer_headers = dict(line.split(": ", 1) for line in lines if ": " in line)
  assert len(text) == int(answer_headers["Content-Length"]), reply  # One answer.
  return int(status_line.split(" ", 2)[1]), answer_headers, text.decode(
      "utf-8", "replace")
