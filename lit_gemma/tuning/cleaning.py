"""A cleaned copy of a tuning set, and a log of every row dropped and why.

`lit-gemma hygiene --dataset SET --write-clean OUT` writes OUT (never SET:
nothing is changed in place) and OUT's drop log beside it
(`drop_log_path(OUT)`). The rules, in this order, on the review's findings:

  evaluation   a row marked `split: eval` is an evaluation item, not tuning
               data: dropped
  contaminated a row that matches an evaluation item exactly or by a long
               n-gram, or as a paraphrase at or above the strict cosine
               (contamination.py, paraphrases.py), is dropped; a paraphrase
               match below it is kept and listed in the log for review
  exact        of each group of exact duplicates the first row in the file
               is kept and the others are dropped
  near         near duplicates are grouped (two rows whose query vectors
               are at or above the strict cosine share a group, and so on
               transitively); the first row of each group in the file is
               kept and the others are dropped. Pairs between the review
               and the strict cosine are only reported.

Suspect labels, coverage and diversity findings change nothing here: they
need a reviewer's judgement. Kept rows are copied byte for byte (JSONL
lines, CSV records with their header), in their order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import read_text

FORMATS = (".jsonl", ".csv")


def drop_log_path(out: str) -> str:
  """Where the drop log of a cleaned set OUT goes: OUT's name with
  `.drop_log.json` in place of its extension."""
  return os.path.splitext(out)[0] + ".drop_log.json"


def _line(where: str) -> int:
  return int(where.rsplit(":", 1)[1])


def drops(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
  """{line: {"rule", "why", ...}} of the rows the rules drop, from a
  hygiene report (hygiene.build) of a JSONL or CSV set."""
  out: dict[int, dict[str, Any]] = {}

  def drop(line: int, rule: str, why: str, **more) -> None:
    if line not in out:
      out[line] = {"line": line, "rule": rule, "why": why, **more}

  for where in report.get("eval_rows", []):
    drop(_line(where), "evaluation", "marked split: eval")
  strict = report.get("strict_threshold")
  for match in report["eval_overlap"]:
    sure = [m for m in match["measures"] if m != "near" or (
        strict is not None and match.get("similarity", 0) >= strict)]
    if not sure:
      continue
    how = ", ".join(sure)
    drop(_line(match["query"]["where"]), "contaminated",
         f"matches the evaluation item at {match['eval']['where']} ({how})",
         query=match["query"]["text"], eval_item=match["eval"]["text"])
  for group in report["exact_duplicates"]:
    lines = sorted(_line(q["where"]) for q in group)
    keep = next((l for l in lines if l not in out), None)
    for line in lines:
      if line != keep:
        drop(line, "exact", f"exact duplicate of line {keep}")
  for group in report.get("near_groups") or []:
    lines = sorted(_line(q["where"]) for q in group["rows"])
    keep = next((l for l in lines if l not in out), None)
    for line in lines:
      if line != keep:
        drop(line, "near", f"near duplicate of line {keep} (cosine "
             f">= {strict})")
  return out


def for_review(report: dict[str, Any], dropped: dict[int, Any]
               ) -> list[dict[str, Any]]:
  """Paraphrase matches of kept rows below the strict cosine: listed in the
  log for a reviewer, not dropped."""
  return [{"line": _line(m["query"]["where"]), "eval": m["eval"]["where"],
           "similarity": m.get("similarity")}
          for m in report["eval_overlap"]
          if _line(m["query"]["where"]) not in dropped]


def _records(path: str, text: str, lines: Sequence[int]
             ) -> dict[int, str]:
  """{first line: the record's text as written} for each record start."""
  raw = text.splitlines(keepends=True)
  starts = sorted(lines)
  out = {}
  for k, start in enumerate(starts):
    end = starts[k + 1] - 1 if k + 1 < len(starts) else len(raw)
    chunk = raw[start - 1:end]
    while chunk and not chunk[-1].strip():
      chunk.pop()
    if chunk and not chunk[-1].endswith("\n"):
      chunk[-1] += "\n"
    out[start] = "".join(chunk)
  return out


def write(dataset: str, queries: Sequence, report: dict[str, Any],
          out: str) -> dict[str, Any]:
  """Writes the cleaned set to `out` and its drop log; returns the log."""
  dataset, out = os.fspath(dataset), os.fspath(out)
  ext = os.path.splitext(dataset)[1].lower()
  if ext not in FORMATS:
    raise DataError(dataset, f"--write-clean copies JSONL or CSV rows; this "
                    f"is a '{ext}' file")
  if os.path.splitext(out)[1].lower() != ext:
    raise DataError(out, f"--write-clean: the cleaned copy of a '{ext}' set "
                    f"needs a '{ext}' name")
  if os.path.exists(out) and os.path.samefile(out, dataset):
    raise DataError(out, "--write-clean would overwrite the set it cleans; "
                    "name another file (nothing is changed in place)")
  lines = [q.line for q in queries]
  if any(line is None for line in lines):
    raise DataError(dataset, "--write-clean: rows without line numbers")
  text = read_text(dataset)
  records = _records(dataset, text, lines)
  dropped = drops(report)
  kept = [line for line in lines if line not in dropped]
  header = text.splitlines(keepends=True)[0] if ext == ".csv" else ""
  if header and not header.endswith("\n"):
    header += "\n"
  body = header + "".join(records[line] for line in kept)
  log = {"dataset": dataset, "cleaned": out, "rows": len(lines),
         "kept": len(kept), "dropped": [dropped[l] for l in sorted(dropped)],
         "kept_for_review": for_review(report, dropped),
         "rules": ["evaluation", "contaminated", "exact", "near"],
         "strict_cosine": report.get("strict_threshold")}
  with open(out, "w", encoding="utf-8") as f:
    f.write(body)
  with open(drop_log_path(out), "w", encoding="utf-8") as f:
    f.write(json.dumps(log, indent=1, ensure_ascii=False) + "\n")
  return log
