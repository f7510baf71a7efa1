"""The hygiene report (tuning/hygiene.py's dict) as text, JSON or HTML
(one offline page, html_page.py).

Sections in the order a reviewer acts on them: what would be dropped
(duplicates, evaluation overlap), then coverage, diversity and where the set
is narrow, then suspect labels; every model threshold with the figures that
say what its flags mean.
"""

import json
from typing import Any

from lit_gemma import html_page

FORMATS = ("text", "json", "html")
SHOWN = 50  # pairs listed in text and HTML


def to_json(report: dict[str, Any]) -> str:
  return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _q(query: dict[str, str]) -> str:
  return f"{query['where']} {query['text']!r}"


def _duplicates(report) -> list[tuple[str, list[str]]]:
  out = []
  groups = report["exact_duplicates"]
  out.append((f"Exact duplicates (case, spacing, punctuation): {len(groups)}",
              [" = ".join(_q(q) for q in g) for g in groups]))
  near = report["near_duplicates"]
  if near is None:
    out.append(("Near duplicates: not computed (no model)", []))
    return out
  lines = [f"{p['similarity']:.3f}  {_q(p['a'])} ~ {_q(p['b'])}"
           for p in near[:SHOWN]]
  count = report.get("near_duplicate_count", len(near))
  if count > SHOWN:
    lines.append(f"... and {count - SHOWN} more (the JSON report lists "
                 f"{len(near)})")
  strict = report.get("strict_threshold")
  groups = report["near_groups"]
  lines += [f"sure (cosine >= {strict}), {len(groups)} group(s) the cleaned "
            "copy keeps one of:"]
  lines += [f"  {' ~ '.join(q['where'] for q in g['rows'])}" for g in groups]
  out.append((f"Near duplicates to review (cosine >= {report['threshold']}):"
              f" {count}", lines))
  return out


def _overlap(report) -> list[tuple[str, list[str]]]:
  if report["eval_set"] is None:
    return [("Evaluation overlap: no evaluation set (--eval_set, the review "
             "file's eval_set, or split: eval rows)", [])]
  lines = []
  for item in report["eval_overlap"]:
    how = ", ".join("paraphrase" if m == "near" else m
                    for m in item["measures"])
    if "ngram" in item:
      how += f"; shared: {item['ngram']!r}"
    if "similarity" in item:
      sure = item["similarity"] >= (report.get("strict_threshold") or 2)
      how += (f"; cosine {item['similarity']:.3f}, "
              f"{'sure' if sure else 'to review'}")
    lines.append(f"{_q(item['query'])}\n    ~ {_q(item['eval'])} ({how})")
  title = (f"Overlap with {report['eval_set']} ({report['eval_queries']} "
           f"items): {len(lines)}")
  return [(title, lines)]


def _coverage(cov) -> list[tuple[str, list[str]]]:
  width = max(len(p) for p in cov["policies"])
  table = ["  ".join([" " * width] + cov["use_cases"])]
  for p in cov["policies"]:
    cells = [str(cov["counts"][p][u]).rjust(len(u)) for u in cov["use_cases"]]
    table.append("  ".join([p.ljust(width)] + cells))
  table += [f"empty: {p} x {u}" for p, u in cov["empty"]]
  table += [f"thin: {p} x {u} ({n} rows)" for p, u, n in cov["thin"]]
  for what, names in cov["undeclared"].items():
    table += [f"undeclared {what[:-1]}: {n} ({c} rows)"
              for n, c in names.items()]
  for b in cov["balance"]:
    shares = ", ".join(f"{v} {s:.0%}" for v, s in b["shares"].items())
    want = ", ".join(f"{v} {s:.0%}" for v, s in b["expected"].items())
    table.append(f"{b['field']}: {shares} (declared {want})")
  table += [f"off balance: {o['policy']} x {o['use_case']}: {o['field']} "
            f"{o['value']} {o['share']:.0%} of {o['rows']} rows (declared "
            f"{o['expected']:.0%})" for o in cov["off_balance"]]
  title = "Coverage: policy x use_case"
  if not cov["declared"]:
    title += (" (only what the data has: declare the expected policies and "
              "use cases with --review FILE)")
  return [(title, table)]


def _diversity(report) -> list[tuple[str, list[str]]]:
  div = report["diversity"]
  lines = ["words: " + ", ".join(f"{k} {v:g}" for k, v in
                                  div["lengths"].items()),
           "forms: " + ", ".join(f"{k} {v}" for k, v in div["forms"].items()),
           "tones: " + ", ".join(f"{k} {v}" for k, v in div["tones"].items()
                                 if v)]
  out = [("Queries", lines)]
  topics = report.get("topics")
  if topics is not None:
    out.append((f"Topics (k-means on query vectors): {topics['k']}", [
        f"{t['topic']:>2}. {t['name']}: {t['size']} ({t['share']:.0%})"
        for t in topics["topics"]]))
  identity = []
  for axis in report["identity"]["axes"]:
    if axis["groups"]:
      groups = ", ".join(f"{g['group']} {g['count']} ({g['adversarial']} "
                         "adversarial)" for g in axis["groups"])
      identity.append(f"{axis['axis']}: {groups}")
      for g in axis["groups"]:
        identity += [f"  {g['group']}: {q['where']}" for q in g["rows"]]
  out.append(("Identity terms (queries mentioning each group; "
              "tuning/identity_terms.json)", identity or ["none"]))
  narrow = div["narrow"]
  out.append((f"Where the set is narrow: {len(narrow)}",
              [f"{n['what']}: {n['why']}" for n in narrow]))
  return out


def _labels(report) -> list[tuple[str, list[str]]]:
  out = []
  pref = report["labels"]["preference"]
  if pref is not None:
    lines = [f"{s['where']} [{'+'.join(s['signals'])}] {s['why']}"
             for s in pref["suspects"]]
    lines += [f"{n['where']} not a pair: {n['why']}"
              for n in pref["not_a_pair"]]
    if pref["unmarked_kind"]:
      lines.append(f"{pref['unmarked_kind']} pairs have no kind "
                   "(adversarial/benign): the rule skips them")
    if pref["calibration"]:
      lines.append(_calibration_line(pref["calibration"]))
    else:
      lines.append("margin: not computed (no model); rule only")
    out.append((f"Suspect preference labels: {len(pref['suspects'])} of "
                f"{pref['pairs']} pairs ({len(pref['not_a_pair'])} not a "
                "pair)", lines))
  sft = report["labels"]["sft"]
  if sft is not None:
    lines = [f"{s['where']} [{'+'.join(s['signals'])}] {s['why']}"
             for s in sft["suspects"]]
    if sft["other_labels"]:
      lines.append("labels other than safe/unsafe, not checked: "
                   + ", ".join(sft["other_labels"]))
    if sft["calibration"]:
      lines.append(_calibration_line(sft["calibration"]))
      if not sft["likelihood_flags"]:
        lines.append("likelihood: not used to flag (under 80% of its flags "
                     "were right on the check set); rule only")
    out.append((f"Suspect SFT labels: {len(sft['suspects'])} of "
                f"{sft['rows']} rows ({sft['labelled']} labelled; a row without "
                "a label reads as safe)", lines))
  same = report.get("same_responses")
  if same is not None:
    out.append(("Preference pairs with the same response on both sides: "
                f"{len(same)}", [_q(q) for q in same]))
  return out


def _calibration_line(cal: dict[str, Any]) -> str:
  side = ">=" if cal["flags_above"] else "<"
  fig = cal["check"]
  signals = ", ".join(f"{n} by the {name}" for name, n in
                      fig.get("by_signal", {}).items())
  return (f"{cal['name']} {side} {cal['threshold']:+.4f} (calibrated for "
          f"this model on {cal['calibration_set']}); on "
          f"{cal['check_set']}: recall {fig['recall']:.2f} "
          f"({fig['found']} of {fig['planted']}"
          f"{': ' + signals if signals else ''}), precision "
          f"{fig['precision']:.2f} ({fig['found']} of {fig['flagged']} flags)")


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
  """(title, lines) for the text and HTML renderings."""
  out = _duplicates(report) + _overlap(report)
  cal = report.get("calibration", {}).get("paraphrase")
  if cal:
    out.append(("Paraphrase threshold", [
        _calibration_line(cal),
        f"(threshold used: {report['threshold']}, "
        f"{report['calibration']['threshold_from']})"]))
  return (out + _coverage(report["coverage"]) + _diversity(report)
          + _labels(report))


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
