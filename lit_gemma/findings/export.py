"""The team's findings exported for reading outside the server: JSONL (one
finding a line, exactly as kept) and one self-contained HTML page (no
script, no external address: it opens offline, in a mail or a document
system), newest first, each with its note, author, time, dataset and the
explained span marked in its target."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from lit_gemma import html_page

FORMATS = ("jsonl", "html")

_META = "color:#5f6368;font-size:12px"
_TEXT = ("background:#f8f9fa;padding:6px;white-space:pre-wrap;"
         "word-break:break-word;margin:3px 0")


def jsonl(findings: Sequence[dict[str, Any]]) -> str:
  """One finding per line, keys sorted, as the store keeps it."""
  return "".join(json.dumps(f, ensure_ascii=False, sort_keys=True) + "\n"
                 for f in findings)


def _target(finding: dict[str, Any]) -> str:
  """The explained target, its span marked (a masked run of the text)."""
  explained = finding.get("span") or {}
  target = explained.get("target", finding["data"].get("target", ""))
  text = explained.get("text", "")
  escaped = html.escape(str(target))
  if text and text in target:
    start = target.rindex(text)
    escaped = (html.escape(target[:start]) + '<mark style="background:#fde293">'
               + html.escape(text) + "</mark>"
               + html.escape(target[start + len(text):]))
  return escaped


def page(findings: Sequence[dict[str, Any]],
         title: str = "lit-gemma findings") -> str:
  """One offline HTML page of `findings`, newest first."""
  articles = []
  for f in sorted(findings, key=lambda f: f["finding"], reverse=True):
    who = html.escape(f["author"]) + (
        "" if f.get("verified") else
        ' <span style="color:#b06000">(unverified)</span>')
    explained = f.get("span") or {}
    span_line = (f'<div style="{_META}">explained: '
                 f'{html.escape(repr(explained["text"]))} on model '
                 f'{html.escape(str(explained.get("model", "")))}</div>'
                 if explained.get("text") else "")
    articles.append(
        f'<div id="{html.escape(f["finding"])}" style="border-top:1px solid '
        f'#dadce0;padding:12px 0">'
        f'<div style="{_META}">{html.escape(f["created"])} · {who} · dataset '
        f'{html.escape(f["dataset"])} · {html.escape(f["finding"])}</div>'
        f'<p style="font-size:16px;white-space:pre-wrap">'
        f'{html.escape(f["note"])}</p>'
        f'<div style="{_META}">prompt</div><pre style="{_TEXT}">'
        f'{html.escape(str(f["data"].get("prompt", "")))}</pre>'
        f'<div style="{_META}">target</div><pre style="{_TEXT}">'
        f'{_target(f)}</pre>{span_line}</div>')
  body = (html_page.paragraph(f"{len(findings)} findings")
          + ("\n".join(articles) or html_page.paragraph("No findings yet.")))
  return html_page.page(title, body)


RENDER = {"jsonl": jsonl, "html": page}
