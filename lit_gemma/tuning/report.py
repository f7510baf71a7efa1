"""The hygiene report (tuning/hygiene.py's dict) as text, JSON or HTML
(one offline page, html_page.py)."""

import json
from typing import Any

from lit_gemma import html_page

FORMATS = ("text", "json", "html")


def to_json(report: dict[str, Any]) -> str:
  return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
  """(title, lines) for the text and HTML renderings."""
  out = []
  groups = report["exact_duplicates"]
  out.append((f"Exact duplicates (case, spacing, punctuation): {len(groups)}",
              [" = ".join(f"{q['where']} {q['text']!r}" for q in g)
               for g in groups]))
  near = report["near_duplicates"]
  if near is None:
    out.append(("Near duplicates: not computed (no model)", []))
  else:
    out.append((f"Near duplicates (cosine >= {report['threshold']}): "
                f"{len(near)}",
                [f"{p['similarity']:.3f}  {p['a']['where']} {p['a']['text']!r}"
                 f" ~ {p['b']['where']} {p['b']['text']!r}" for p in near]))
  if report["eval_set"] is not None:
    lines = []
    for item in report["eval_overlap"]:
      how = ", ".join(item["measures"])
      if "ngram" in item:
        how += f"; shared: {item['ngram']!r}"
      if "similarity" in item:
        how += f"; cosine {item['similarity']:.3f}"
      lines.append(f"{item['query']['where']} {item['query']['text']!r} ~ "
                   f"{item['eval']['where']} ({how})")
    out.append((f"Overlap with {report['eval_set']}: {len(lines)}", lines))
  same = report.get("same_responses")
  if same is not None:
    out.append(("Preference pairs with the same response on both sides: "
                f"{len(same)}", [f"{q['where']} {q['text']!r}" for q in same]))
  cov = report["coverage"]
  width = max(len(p) for p in cov["policies"])
  table = ["  ".join([" " * width] + cov["use_cases"])]
  for p in cov["policies"]:
    cells = [str(cov["counts"][p][u]).rjust(len(u)) for u in cov["use_cases"]]
    table.append("  ".join([p.ljust(width)] + cells))
  table += [f"empty: {p} x {u}" for p, u in cov["empty"]]
  out.append(("Coverage: policy x use_case", table))
  lengths, forms = cov["lengths"], cov["forms"]
  out.append(("Queries", [
      "words: " + ", ".join(f"{k} {v:g}" for k, v in lengths.items()),
      "forms: " + ", ".join(f"{k} {v}" for k, v in forms.items())]))
  return out


def to_text(report: dict[str, Any]) -> str:
  head = f"Hygiene of {report['dataset']} ({report['queries']} queries)"
  parts = [head, "=" * len(head)]
  for title, lines in _sections(report):
    parts += ["", title] + [f"  {line}" for line in lines]
  return "\n".join(parts) + "\n"


def to_html(report: dict[str, Any]) -> str:
  body = []
  for title, lines in _sections(report):
    body.append(html_page.section(title))
    if lines:
      body.append(html_page.preformatted(lines))
  return html_page.page(
      f"Hygiene of {report['dataset']}", "".join(body),
      heading=f"Hygiene of {report['dataset']} ({report['queries']} queries)")


RENDER = {"text": to_text, "json": to_json, "html": to_html}
