"""LIT's page without the internet: its fonts come from our own server.

LIT's index.html links four Google Fonts stylesheets; offline (an
air-gapped team) every Material icon then shows as its name
("arrow_drop_down"). This module serves a copy of the page whose font links
point at `FONTS_ROUTE`, where `static/fonts/` (icon, Roboto and Share Tech
Mono files with their licences) is served. Google Sans is not
redistributable, so `fonts.css` maps it to Roboto.
"""

from __future__ import annotations

import functools
import os
import pathlib
import re

from absl import logging

FONTS_DIR = pathlib.Path(__file__).resolve().parents[1] / "static" / "fonts"
# Relative to the page, as LIT's own links to main.js and static/ are.
FONTS_ROUTE = "/lit-gemma-fonts/"
_CSS_LINK = f'<link href="{FONTS_ROUTE.lstrip("/")}fonts.css" rel="stylesheet">'
_GOOGLE_LINK = re.compile(
    r'[ \t]*<link[^>]*https://fonts\.(?:googleapis|gstatic)\.com[^>]*>\n?')
_TYPES = {".css": "text/css; charset=utf-8", ".woff2": "font/woff2",
          ".txt": "text/plain; charset=utf-8"}
_INDEX_PATHS = ("", "/", "/index.html")


def serves(path: str) -> bool:
  """Whether `path` is one this module answers (the page or a font file)."""
  return path in _INDEX_PATHS or path.startswith(FONTS_ROUTE)


@functools.lru_cache(maxsize=4)
def index_html(client_root: str) -> bytes:
  """LIT's index.html with its font links replaced by ours."""
  with open(os.path.join(client_root, "static", "index.html"),
            encoding="utf-8") as f:
    page = f.read()
  page, found = _GOOGLE_LINK.subn("", page)
  if not found:
    logging.warning("LIT's index.html links no Google font; its fonts are "
                    "left as they are")
  page = page.replace("<head>", f"<head>\n  {_CSS_LINK}", 1)
  return page.encode("utf-8")


@functools.cache
def _font_files() -> dict[str, bytes]:
  """Every servable file of FONTS_DIR by name (read once; under 400 KB)."""
  return {p.name: p.read_bytes() for p in FONTS_DIR.iterdir()
          if p.suffix in _TYPES}


def send(environ, start_response, body: bytes, kind: str, cache: str):
  """A 200 answer of `body` (none for HEAD)."""
  start_response("200 OK", [
      ("Content-Type", kind), ("Content-Length", str(len(body))),
      ("Cache-Control", cache)])
  return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def answer(environ, start_response, client_root: str):
  """The response for the page or a font file; None for any other path."""
  path = environ.get("PATH_INFO", "")
  if not serves(path):
    return None
  if path in _INDEX_PATHS:
    body, kind = index_html(client_root), "text/html; charset=utf-8"
  else:
    name = path[len(FONTS_ROUTE):]
    body = _font_files().get(name)
    if body is None:
      body = f"{path}: not a font file lit-gemma serves".encode()
      start_response("404 NOT FOUND", [
          ("Content-Type", "text/plain; charset=utf-8"),
          ("Content-Length", str(len(body)))])
      return [body]
    kind = _TYPES[os.path.splitext(name)[1]]
  return send(environ, start_response, body, kind,
              "no-cache" if kind.startswith("text/html")
              else "public, max-age=86400")
