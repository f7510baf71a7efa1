"""`evaluate`'s report as text, JSON or one offline HTML file: the figures
of summary.py per template id (and per route of a dynamic template), the
refusal detector it used, and any contamination it was told to go past.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence

from lit_gemma.evaluation import summary
from lit_gemma import html_page as page

# Figure -> column heading (text and HTML).
HEADINGS = {
    "rows": "rows", "target_loglik": "loglik",
    "target_mean_loglik": "loglik/tok", "exact_match": "exact",
    "contains": "contains", "rouge_l": "rouge_l",
    "refusal_rate": "refusal", "over_refusal_rate": "over-refusal",
    "preference_margin": "margin",
}


def cell(name: str, value: float) -> str:
  if value is None or math.isnan(value):
    return "-"
  if name == "rows":
    return str(int(value))
  if name in ("target_loglik", "target_mean_loglik", "preference_margin"):
    return f"{value:+.3f}"
  return f"{value:.3f}"


def table(groups: Mapping[str, Mapping[str, float]], first: str,
          figures: Sequence[str] = tuple(summary.FIGURES)) -> list[list[str]]:
  """Rows of cells: a heading row, then one row per group."""
  out = [[first] + [HEADINGS[f] for f in figures]]
  for name, values in groups.items():
    out.append([name] + [cell(f, values[f]) for f in figures])
  return out


def aligned(rows: Sequence[Sequence[str]]) -> str:
  widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
  return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
                   for r in rows)


def build(dataset: str, model: str, rows, matches=()) -> dict:
  """The report as a JSON-able dict (`rows`: measures.RowResult)."""
  figures = summary.report(rows)
  clean = lambda groups: {k: {f: summary.finite(v) for f, v in g.items()}
                          for k, g in groups.items()}
  return {
      "dataset": dataset, "model": model, "eval_rows": len(rows),
      "all": clean({"all": figures["all"]})["all"],
      "templates": clean(figures["templates"]),
      "routes": clean(figures["routes"]),
      "figures": summary.DESCRIPTIONS,
      "contamination_allowed": [m.summary() for m in matches],
      "rows": [r.to_dict() for r in rows],
  }


def _groups(report: Mapping, key: str) -> dict[str, dict[str, float]]:
  nan = lambda v: math.nan if v is None else v
  return {k: {f: nan(v) for f, v in g.items()} for k, g in
          report[key].items()}


def text(report: Mapping) -> str:
  lines = [f"Evaluation of {report['dataset']} on {report['eval_rows']} "
           f"evaluation rows, model {report['model']}", ""]
  lines.append(aligned(table(_groups(report, "templates"), "template")))
  if report["routes"]:
    lines += ["", aligned(table(_groups(report, "routes"), "route"))]
  for line in report["contamination_allowed"]:
    lines.append(f"warning (allowed): {line}")
  lines += ["", "exact/contains: targets of up to 4 words; rouge_l: longer "
            "ones; refusal: rows of kind adversarial; over-refusal: kind "
            "benign; '-': no row it applies to"]
  return "\n".join(lines) + "\n"


def to_json(report: Mapping) -> str:
  return json.dumps(report, indent=1) + "\n"


def to_html(report: Mapping) -> str:
  body = [f"<p>{html.escape(report['dataset'])}: {report['eval_rows']} "
          f"evaluation rows, model {html.escape(report['model'])}</p>"]
  for key, first in (("templates", "template"), ("routes", "route")):
    if report[key]:
      rows = table(_groups(report, key), first)
      body.append(page.table(rows[0], rows[1:]))
  body.append(page.table(
      ["figure", "what it is"], list(report["figures"].items())))
  return page.page(f"lit-gemma evaluate: {report['dataset']}",
                        "".join(body))


RENDER = {"text": text, "json": to_json, "html": to_html}
