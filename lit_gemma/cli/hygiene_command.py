"""`lit-gemma hygiene`: the tuning-data review from the command line.

  lit-gemma hygiene --dataset PATH [--eval_set PATH ...] [--review FILE]
      [--format text|json|html] [--model SOURCE | --no_model]
      [--threshold COS] [--output FILE] [--write-clean OUT]

The checks are in tuning/hygiene.py, the renderings in tuning/report.py and
the cleaned copy in tuning/cleaning.py; this module only reads arguments,
loads the model, shows progress (tqdm, on stderr) and writes. A bad file
prints one line (`file:LINE: message`) and exits with status 1; bad
arguments exit with status 2.
"""

import argparse
import sys
from collections.abc import Sequence


from lit_gemma import errors
from lit_gemma import progress
from lit_gemma.tuning import cleaning
from lit_gemma.tuning import hygiene
from lit_gemma.tuning import queries as queries_lib
from lit_gemma.tuning import report as report_lib
from lit_gemma.tuning import review as review_lib


def stage_bars(stream=None):
  """A `progress(stage, done, total)` that draws one bar per stage on
  `stream` (the model's work on 10,000 rows takes minutes)."""
  bars = {}

  def report(stage: str, done: int, total: int) -> None:
    if stage not in bars:
      bars[stage] = progress.callback(f"lit-gemma hygiene: {stage}",
                                      unit=" texts", stream=stream)
    bars[stage](done, total)

  return report

def load_lm(source: str):
  """The model for vectors and likelihoods, from the model layer."""
  from lit_gemma.models import loading  # pylint: disable=g-import-not-at-top
  return loading.load_model(source)


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="python -m lit_gemma hygiene",
                              description=__doc__.splitlines()[0])
  p.add_argument("--dataset", required=True)
  p.add_argument("--eval_set", action="append", default=[],
                 help="an evaluation set (repeat for several); also the "
                 "review file's eval_set and the set's split: eval rows")
  p.add_argument("--review", help="a review file declaring the expected "
                 "policies, use cases, balance and evaluation set")
  p.add_argument("--format", choices=report_lib.FORMATS, default="text")
  p.add_argument("--model", default="embedded",
                 help="Gemma source for vectors and likelihoods")
  p.add_argument("--no_model", action="store_true",
                 help="text checks only (no near duplicates, topics, "
                 "paraphrases or likelihoods)")
  p.add_argument("--threshold", type=float,
                 help="a cosine for near duplicates and paraphrases instead "
                 "of the one calibrated for the model")
  p.add_argument("--output", help="write the report here instead of stdout")
  p.add_argument("--write-clean", "--write_clean", dest="write_clean",
                 metavar="OUT", help="write the set without evaluation rows, "
                 "contaminated rows and duplicates to OUT (same format), and "
                 "the log of dropped rows beside it")
  return p


def main(argv: Sequence[str] | None = None) -> int:
  args_parser = parser()
  try:
    args = args_parser.parse_args(argv)
    if args.threshold is not None and not -1.0 <= args.threshold <= 1.0:
      args_parser.error(f"--threshold must be a cosine in [-1, 1], got "
                        f"{args.threshold}")
  except SystemExit as e:  # Bad arguments: argparse's one line, status 2.
    return e.code if isinstance(e.code, int) else 2
  bars = stage_bars(sys.stderr)
  try:
    # Bad files fail before the model loads.
    rows = queries_lib.read_queries(args.dataset)
    review = review_lib.load(args.review) if args.review else None
    for path in args.eval_set:
      queries_lib.read_queries(path)
    lm = None if args.no_model else load_lm(args.model)
    report = hygiene.build(args.dataset, args.eval_set, lm=lm,
                           threshold=args.threshold, progress=bars,
                           review=review)
    if args.write_clean:
      log = cleaning.write(args.dataset, rows, report, args.write_clean)
      print(f"lit-gemma hygiene: wrote {log['kept']} of {log['rows']} rows to "
            f"{args.write_clean}; {len(log['dropped'])} dropped, listed in "
            f"{cleaning.drop_log_path(args.write_clean)}", file=sys.stderr)
  except errors.UserError as e:  # A bad file or model source: one line.
    print(f"lit-gemma hygiene: {' '.join(str(e).split())}", file=sys.stderr)
    return 1
  text = report_lib.RENDER[args.format](report)
  if args.output:
    with open(args.output, "w", encoding="utf-8") as f:
      f.write(text)
  else:
    sys.stdout.write(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
