"""Team mode and request bounds: what a server shared by many people refuses.

A team server (for example on Cloud Run) is opened by colleagues in a
browser. What it loads and where it reads and writes are fixed when it
starts; no request may change them. With `--team_mode` the server:
  - turns on LIT's demo mode and gives LIT no model or dataset loaders;
  - answers 403 to the endpoints that load models or datasets or read and
    write datapoint files (`BLOCKED_ENDPOINTS`); nothing is written.
In every mode a request body over `--max_request_bytes` is answered with 413
before it is read, and a static-file path must resolve inside LIT's client
folder (LIT's own check compares string prefixes and follows symlinks).
Prompt length is bounded by `--max_length` (400, in lit/model_groups.py).
"""

from __future__ import annotations

import io

from lit_gemma.prompts import files

# LIT endpoints that load models or datasets or touch datapoint files.
BLOCKED_ENDPOINTS = ("/create_dataset", "/create_model", "/load_datapoints",
                     "/save_datapoints")
DEFAULT_MAX_REQUEST_BYTES = 1 << 20  # LIT's largest request is ~100 KB.


class EndpointBlocked(PermissionError):
  """A request team mode does not serve (403); the message says why."""


class BodyTooLarge(ValueError):
  """A request body over the limit (413); the message gives both sizes."""


def refuse(endpoint: str) -> None:
  """Raises EndpointBlocked for `endpoint` on a team server."""
  raise EndpointBlocked(
      f"{endpoint} is disabled on this team server (--team_mode): it cannot "
      f"load models or datasets or read or write files")


def bound_body(environ: dict, limit: int) -> None:
  """Raises BodyTooLarge if the request body is over `limit` bytes.

  A declared Content-Length is checked without reading. A chunked body has
  none: it is read here, at most `limit` + 1 bytes, and put back in
  `environ` with its length, so LIT reads it as usual.
  """
  declared = environ.get("CONTENT_LENGTH")
  # A chunked body's Content-Length means nothing
  # (HTTP/1.1: Transfer-Encoding wins), so it is always read and counted.
  chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
  if declared and not chunked:
    try:
      size = int(declared)
    except ValueError:
      raise BodyTooLarge(f"Content-Length {declared!r} is not a number") from None
    if size > limit:
      raise BodyTooLarge(_too_large(f"{size} bytes", limit))
    return
  if not chunked:
    return  # No body.
  data = environ["wsgi.input"].read(limit + 1)
  if len(data) > limit:
    raise BodyTooLarge(_too_large(f"over {limit} bytes", limit))
  environ["wsgi.input"] = io.BytesIO(data)
  environ["CONTENT_LENGTH"] = str(len(data))
  environ.pop("HTTP_TRANSFER_ENCODING", None)


def _too_large(size: str, limit: int) -> str:
  return (f"request body is {size}, over the limit of {limit} bytes "
          f"(--max_request_bytes)")


def inside(folder: str, relative_path: str) -> bool:
  """Whether `folder`/`relative_path`, symlinks and `..` resolved, stays in
  `folder` (the static-file check LIT's prefix test gets wrong)."""
  try:
    files.resolve_under(relative_path.lstrip("/"), folder)
  except files.DataError:
    return False
  return True
