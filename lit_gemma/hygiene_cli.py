"""The hygiene report as text, JSON or HTML, and its command line.

  python -m lit_gemma.hygiene_cli --dataset PATH [--eval_set PATH]
      [--format text|json|html] [--model SOURCE | --no_model]
      [--threshold COS] [--output FILE]

The checks are in hygiene.py; this module only loads the model and renders.
A bad file prints one line (`file:LINE: message`) and exits with status 2.
"""

import argparse
import html
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from lit_gemma import errors
from lit_gemma import hygiene

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
  e = html.escape
  parts = ["<!doctype html><meta charset=utf-8>",
           f"<title>Hygiene of {e(report['dataset'])}</title>",
           f"<h1>Hygiene of {e(report['dataset'])} ({report['queries']} "
           "queries)</h1>"]
  for title, lines in _sections(report):
    parts.append(f"<h2>{e(title)}</h2>")
    if lines:
      parts.append("<pre>" + "\n".join(e(line) for line in lines) + "</pre>")
  return "\n".join(parts) + "\n"


RENDER = {"text": to_text, "json": to_json, "html": to_html}


def progress_lines(stream, every_s: float = 10.0):
  """A `progress(done, total)` that writes a line to `stream` every
  `every_s` seconds and at the end (a 1,000-row set takes minutes)."""
  last = [time.monotonic()]

  def report(done: int, total: int) -> None:
    now = time.monotonic()
    if done == total or now - last[0] >= every_s:
      stream.write(f"lit-gemma hygiene: model vectors {done}/{total} "
                   "queries\n")
      stream.flush()
      last[0] = now
  return report


def load_lm(source: str):
  """The model for near duplicates, from the model layer."""
  from lit_gemma import loading  # pylint: disable=g-import-not-at-top
  return loading.load_model(source)


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m lit_gemma hygiene",
                                   description=__doc__.splitlines()[0])
  parser.add_argument("--dataset", required=True)
  parser.add_argument("--eval_set")
  parser.add_argument("--format", choices=FORMATS, default="text")
  parser.add_argument("--model", default="embedded",
                      help="Gemma source for near duplicates")
  parser.add_argument("--no_model", action="store_true",
                      help="text checks only (no near duplicates)")
  parser.add_argument("--threshold", type=float,
                      default=hygiene.NEAR_DUPLICATE_THRESHOLD)
  parser.add_argument("--output", help="write here instead of stdout")
  try:
    args = parser.parse_args(argv)
  except SystemExit as e:  # Bad arguments: argparse's one line, status 2.
    return e.code if isinstance(e.code, int) else 2
  if not -1.0 <= args.threshold <= 1.0:
    parser.error(f"--threshold must be a cosine in [-1, 1], got "
                 f"{args.threshold}")
  try:
    hygiene.read_queries(args.dataset)  # Bad files fail before the model.
    if args.eval_set:
      hygiene.read_queries(args.eval_set)
    lm = None if args.no_model else load_lm(args.model)
    report = hygiene.build(args.dataset, args.eval_set, lm=lm,
                           threshold=args.threshold,
                           progress=progress_lines(sys.stderr))
  except errors.UserError as e:  # A bad file or model source: one line.
    print(f"lit-gemma hygiene: {' '.join(str(e).split())}", file=sys.stderr)
    return 1
  text = RENDER[args.format](report)
  if args.output:
    with open(args.output, "w", encoding="utf-8") as f:
      f.write(text)
  else:
    sys.stdout.write(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
