"""A request's body, read whole before LIT sees it: its framing checked and
its size bounded.

LIT reads the body where it needs it, deep in a handler, so a body whose
framing is wrong failed there as a 500: a chunk size that is not a number,
a chunk without its line end, a body shorter than its Content-Length (the
client stopped sending), or Transfer-Encoding beside Content-Length (two
lengths for one body, the shape of request smuggling). `read_whole` reads
the body first and raises `BadFraming` (400) or `BodyTooLarge` (413), each
with one line saying what was wrong; otherwise the body is put back in the
environ with its exact length, so LIT reads it as usual.

gunicorn refuses Transfer-Encoding beside Content-Length itself, before
the app runs (deploy/cloudrun/gunicorn.conf.py makes that answer one line
too); the development server passes it on, and it is refused here.
"""

from __future__ import annotations

import io

_READ = 1 << 16  # Bytes per read.


class BodyTooLarge(ValueError):
  """A request body over the limit (413); the message gives both sizes."""


class BadFraming(ValueError):
  """A body whose length cannot be told or is not what was declared (400)."""


def read_whole(environ: dict, limit: int) -> None:
  """Reads the body (at most `limit` + 1 bytes) into `environ`.

  Raises:
    BodyTooLarge: the body is (or declares) over `limit` bytes.
    BadFraming: conflicting or malformed framing (see the module doc).
  """
  declared = environ.get("CONTENT_LENGTH", "").strip()
  codings = [c.strip().lower() for c in
             environ.get("HTTP_TRANSFER_ENCODING", "").split(",")
             if c.strip()]
  if codings:
    if declared:
      raise BadFraming(
          "the request has both Transfer-Encoding and Content-Length; send "
          "one of them")
    if codings != ["chunked"]:
      raise BadFraming(
          f"Transfer-Encoding {environ['HTTP_TRANSFER_ENCODING'][:40]!r} is "
          f"not read here; send the body chunked or with a Content-Length")
    data = _read_chunked(environ["wsgi.input"], limit)
  elif declared:
    if not declared.isdigit():
      raise BadFraming(f"Content-Length {declared[:40]!r} is not a whole "
                       f"number of bytes")
    size = int(declared)
    if size > limit:
      raise BodyTooLarge(_too_large(f"{size} bytes", limit))
    data = _read_exactly(environ["wsgi.input"], size)
  else:
    return  # No body.
  environ["wsgi.input"] = io.BytesIO(data)
  environ["CONTENT_LENGTH"] = str(len(data))
  environ.pop("HTTP_TRANSFER_ENCODING", None)
  environ.pop("wsgi.input_terminated", None)


def _read_chunked(stream, limit: int) -> bytes:
  """The de-chunked body (the server de-chunks it), counted as it is read."""
  parts, size = [], 0
  while True:
    try:
      part = stream.read(_READ)
    except Exception as e:  # pylint: disable=broad-except
      # The server's de-chunker: werkzeug raises OSError, gunicorn its
      # InvalidChunkSize or ChunkMissingTerminator, a timeout OSError too.
      reason = str(e).splitlines()[0][:80] if str(e) else type(e).__name__
      raise BadFraming(f"the chunked body is malformed ({reason})") from None
    if not part:
      return b"".join(parts)
    parts.append(part)
    size += len(part)
    if size > limit:
      raise BodyTooLarge(_too_large(f"over {limit} bytes", limit))


def _read_exactly(stream, size: int) -> bytes:
  """`size` bytes; BadFraming if the client stops short of them."""
  parts, got = [], 0
  while got < size:
    try:
      part = stream.read(min(_READ, size - got))
    except OSError:  # A timeout or reset mid-body.
      part = b""
    if not part:
      raise BadFraming(f"the body ended after {got} of the {size} bytes its "
                       f"Content-Length declares")
    parts.append(part)
    got += len(part)
  return b"".join(parts)


def _too_large(size: str, limit: int) -> str:
  return (f"request body is {size}, over the limit of {limit} bytes "
          f"(--max_request_bytes)")
