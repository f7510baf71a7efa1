"""Time of the hygiene report for a tuning set of N rows (default 1,000).

Builds an SFT set of N rows from the bundled queries (each with a varied
ending, so they are distinct), with the bundled evaluation set, and times
`hygiene.build` without a model (text checks) and, unless --no_model, with
the embedded Gemma 3 270M (near duplicates too; model load not counted).

  .venv/bin/python benchmarks/hygiene.py [--rows 1000] [--no_model]
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from lit_gemma.lit import datasets  # pylint: disable=g-import-not-at-top
from lit_gemma.tuning import hygiene  # pylint: disable=g-import-not-at-top

ENDINGS = ("", " Please be brief.", " Answer in two sentences.",
           " Explain your reasoning.", " I need this for work.")


def write_set(path: pathlib.Path, rows: int) -> None:
  base = [json.loads(line) for line in
          (datasets.BUNDLED_DIR / "tuning_sft.jsonl").read_text().splitlines()]
  with path.open("w") as f:
    for i in range(rows):
      row = dict(base[i % len(base)])
      row["query"] += ENDINGS[(i // len(base)) % len(ENDINGS)]
      row["query"] += f" (case {i})"
      f.write(json.dumps(row) + "\n")


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--rows", type=int, default=1000)
  parser.add_argument("--no_model", action="store_true")
  args = parser.parse_args()
  eval_set = datasets.BUNDLED_DIR / "tuning_eval.jsonl"
  with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp) / "sft.jsonl"
    write_set(path, args.rows)
    start = time.monotonic()
    hygiene.build(path, eval_set)
    print(f"{args.rows} rows, text checks: {time.monotonic() - start:.2f} s")
    if args.no_model:
      return
    from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top
    lm = lm_lib.GemmaLM.load("embedded")
    start = time.monotonic()
    report = hygiene.build(path, eval_set, lm=lm)
    seconds = time.monotonic() - start
    passes = report["queries"] + report["eval_queries"]
    print(f"{args.rows} rows, with near duplicates (270M): {seconds:.1f} s, "
          f"{1000 * seconds / passes:.0f} ms a query "
          f"({len(report['near_duplicates'])} near pairs)")


if __name__ == "__main__":
  main()
