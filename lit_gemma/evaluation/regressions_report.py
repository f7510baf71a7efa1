"""The `regressions` report as text, JSON or one offline HTML file (the two
salience maps of each worst row side by side)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

from lit_gemma.evaluation import report as eval_report
from lit_gemma.evaluation import summary
from lit_gemma import html_page as page

_MEASURES = {"preference_margin": "preference margin",
             "target_mean_loglik": "target log-likelihood per token"}


def _short(text: str, most: int = 100) -> str:
  text = " ".join(text.split())
  return repr(text if len(text) <= most else text[:most - 3] + "...")


def _figures_table(report: Mapping) -> list[list[str]]:
  rows = [["figure", "before", "after", "change"]]
  for name in summary.FIGURES:
    cells = []
    for side in ("before", "after", "change"):
      value = report["summary"][side][name]
      cells.append("-" if value is None else
                   (f"{value:+.3f}" if side == "change" else
                    eval_report.cell(name, value)))
    rows.append([name] + cells)
  return rows


def _row_lines(number: int, row: Mapping) -> list[str]:
  kind = f" [{row['kind']}]" if row["kind"] else ""
  flip = f"; {row['refusal_change']}" if row["refusal_change"] else ""
  return [
      f"{number}. {row['where']}{kind}: {_MEASURES[row['measure']]} "
      f"{row['before']:+.3f} -> {row['after']:+.3f} (drop "
      f"{row['before'] - row['after']:.3f}){flip}",
      f"   prompt: {_short(row['prompt'])}",
      f"   target: {_short(row['target'])}",
      f"   before: {_short(row['response_before'])}",
      f"   after:  {_short(row['response_after'])}"]


def _words(words) -> str:
  return ", ".join(f"{w['text'].strip()!r} {w['score']:.3g}" for w in words)


def text(report: Mapping) -> str:
  lines = [f"Regressions: {report['after']} (after) vs {report['before']} "
           f"(before) on {report['dataset']}, {report['rows']} rows "
           f"({report['rows_used']})", ""]
  lines.append(eval_report.aligned(_figures_table(report)))
  lines += ["", f"Rows that got worse: {report['worse_count']} of "
            f"{report['rows']} (ranked by the drop in the preference margin "
            "where a row has a foil or paired response, else in the target's "
            "log-likelihood per token)"]
  for number, row in enumerate(report["worse"], 1):
    lines += _row_lines(number, row)
  if report.get("tuning_set"):
    lines += ["", f"Rows the after checkpoint was tuned on ("
              f"{report['tuning_set']}): {report['tuned_on_rows']} (their "
              "change measures memory, not generalisation)"]
    lines += [f"  {line}" for line in report["tuned_on"]]
  lines += ["", f"Refusal changes: {len(report['refusal_changes'])}"]
  for row in report["refusal_changes"]:
    lines.append(f"  {row['where']} [{row['kind']}]: {row['refusal_change']}"
                 f"; after: {_short(row['response_after'], 80)}")
  if report["maps"]:
    method = report["maps"][0]["method"]
    lines += ["", f"What the target rested on ({method} by word, the top "
              "prompt words), before | after:"]
    for m in report["maps"]:
      lines += [f"  {m['where']}", f"    before: {_words(m['before'])}",
                f"    after:  {_words(m['after'])}"]
  return "\n".join(lines) + "\n"


def to_json(report: Mapping) -> str:
  """Everything but the explanations (each row's change under "changes")."""
  return json.dumps({k: v for k, v in report.items()
                     if not k.startswith("_")}, indent=1) + "\n"


def to_html(report: Mapping) -> str:
  rows = _figures_table(report)
  body = [f"<p>{html.escape(report['after'])} (after) vs "
          f"{html.escape(report['before'])} (before) on "
          f"{html.escape(report['dataset'])}: {report['rows']} rows "
          f"({html.escape(report['rows_used'])})</p>",
          page.table(rows[0], rows[1:]),
          f"<h2 style=\"font-size:16px\">Rows that got worse: "
          f"{report['worse_count']} of {report['rows']}</h2>"]
  body.append(page.table(
      ["row", "kind", "measure", "before", "after", "drop", "refusal",
       "target", "response after"],
      [(r["where"], r["kind"], _MEASURES[r["measure"]],
        f"{r['before']:+.3f}", f"{r['after']:+.3f}",
        f"{r['before'] - r['after']:.3f}", r["refusal_change"] or "",
        r["target"][:120], r["response_after"][:120])
       for r in report["worse"]]))
  if report.get("tuning_set"):
    body.append(f"<p>Rows the after checkpoint was tuned on "
                f"({html.escape(report['tuning_set'])}): "
                f"{report['tuned_on_rows']}</p><ul>" + "".join(
                    f"<li>{html.escape(line)}</li>"
                    for line in report["tuned_on"]) + "</ul>")
  for m, (before, after) in zip(report["maps"], report["_explanations"]):
    method = m["method"]
    cell = "vertical-align:top;padding:4px 12px;width:50%"
    body.append(
        f"<h3 style=\"font-size:14px\">{html.escape(m['where'])}</h3>"
        f"<table style=\"width:100%\"><tr><th>before</th><th>after</th></tr>"
        f"<tr><td style=\"{cell}\">{before.to_html('word', method)}</td>"
        f"<td style=\"{cell}\">{after.to_html('word', method)}</td></tr>"
        "</table>")
  return page.page(f"lit-gemma regressions: {report['dataset']}",
                        "".join(body))


RENDER = {"text": text, "json": to_json, "html": to_html}
