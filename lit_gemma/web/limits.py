"""Team mode and request bounds: what a server shared by many people refuses.

A team server (for example on Cloud Run) is opened by colleagues in a
browser. What it loads and where it reads and writes are fixed when it
starts; no request may change them. With `--team_mode` the server:
  - turns on LIT's demo mode and gives LIT no model or dataset loaders;
  - answers 403 to the endpoints that load models or datasets or read and
    write datapoint files (`BLOCKED_ENDPOINTS`); nothing is written.
In every mode a request body is read whole first, bounded by
`--max_request_bytes` (413) and its framing checked (web/body.py), and a
static-file path must resolve inside LIT's client folder (LIT's own check
compares string prefixes and follows symlinks).
Prompt length is bounded by `--max_length` (400, in lit/model_groups.py).
"""

from __future__ import annotations

from lit_gemma.prompts import files

# LIT endpoints that load models or datasets or touch datapoint files.
BLOCKED_ENDPOINTS = ("/create_dataset", "/create_model", "/load_datapoints",
                     "/save_datapoints")
DEFAULT_MAX_REQUEST_BYTES = 1 << 20  # LIT's largest request is ~100 KB.


class EndpointBlocked(PermissionError):
  """A request team mode does not serve (403); the message says why."""


def refuse(endpoint: str) -> None:
  """Raises EndpointBlocked for `endpoint` on a team server."""
  raise EndpointBlocked(
      f"{endpoint} is disabled on this team server (--team_mode): it cannot "
      f"load models or datasets or read or write files")


def inside(folder: str, relative_path: str) -> bool:
  """Whether `folder`/`relative_path`, symlinks and `..` resolved, stays in
  `folder` (the static-file check LIT's prefix test gets wrong)."""
  try:
    files.resolve_under(relative_path.lstrip("/"), folder)
  except files.DataError:
    return False
  return True
