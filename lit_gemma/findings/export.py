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

FORMATS = ("jsonl", "html")

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #202124; }
article { border-top: 1px solid #dadce0; padding: 1em 0; }
.meta { color: #5f6368; font-size: 12px; }
.note { font-size: 16px; margin: .4em 0; white-space: pre-wrap; }
pre { background: #f8f9fa; padding: .6em; white-space: pre-wrap;
      word-break: break-word; margin: .3em 0; }
mark { background: #fde293; }
.unverified { color: #b06000; }
"""


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
    escaped = (html.escape(target[:start]) + "<mark>"
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
        ' <span class="unverified">(unverified)</span>')
    explained = f.get("span") or {}
    span_line = (f'<div class="meta">explained: '
                 f'{html.escape(repr(explained["text"]))} on model '
                 f'{html.escape(str(explained.get("model", "")))}</div>'
                 if explained.get("text") else "")
    articles.append(
        f'<article id="{html.escape(f["finding"])}">'
        f'<div class="meta">{html.escape(f["created"])} · {who} · dataset '
        f'{html.escape(f["dataset"])} · {html.escape(f["finding"])}</div>'
        f'<div class="note">{html.escape(f["note"])}</div>'
        f'<div class="meta">prompt</div>'
        f'<pre>{html.escape(str(f["data"].get("prompt", "")))}</pre>'
        f'<div class="meta">target</div><pre>{_target(f)}</pre>'
        f'{span_line}</article>')
  body = "\n".join(articles) or "<p>No findings yet.</p>"
  return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
          f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
          f"</head><body><h1>{html.escape(title)}</h1>"
          f"<p class=\"meta\">{len(findings)} findings</p>\n{body}\n"
          f"</body></html>\n")


RENDER = {"jsonl": jsonl, "html": page}
