"""One self-contained HTML page, the shape of every offline report
(`explain`, `compare`, the hygiene review, and any report added later).

Inline styles only and no external URL, so a report attached to a review
or sent by mail opens offline and looks the same everywhere. Text given
here is escaped; `body` and `html` arguments are markup already.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

_CELL = "border:1px solid #dadce0;padding:2px 8px;text-align:left"


def page(title: str, body: str, heading: str | None = None) -> str:
  """A whole HTML document around `body`, titled `title` and headed by
  `heading` (default: the title)."""
  shown = title if heading is None else heading
  return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          f"<title>{html.escape(title)}</title></head>"
          "<body style=\"font-family:Arial,sans-serif;margin:16px\">"
          f"<h1 style=\"font-size:18px\">{html.escape(shown)}</h1>"
          f"{body}</body></html>\n")


def section(title: str) -> str:
  """A section's heading."""
  return f"<h2 style=\"font-size:16px\">{html.escape(title)}</h2>"


def paragraph(text: str, html_after: str = "") -> str:
  """A paragraph of text, then markup (a coloured map) if given."""
  return f"<p>{html.escape(text)}</p>{html_after}"


def table(header: Sequence, rows: Iterable[Sequence]) -> str:
  """A bordered table; every cell is text."""
  out = ["<table style=\"border-collapse:collapse;margin:8px 0\"><tr>"]
  out += [f"<th style=\"{_CELL}\">{html.escape(str(h))}</th>" for h in header]
  out.append("</tr>")
  for row in rows:
    out.append("<tr>" + "".join(f"<td style=\"{_CELL}\">"
                                f"{html.escape(str(v))}</td>" for v in row)
               + "</tr>")
  return "".join(out) + "</table>"


def preformatted(lines: Iterable[str]) -> str:
  """Lines kept as they are (aligned columns, paths)."""
  return ("<pre style=\"font-size:13px\">"
          + "\n".join(html.escape(line) for line in lines) + "</pre>")
