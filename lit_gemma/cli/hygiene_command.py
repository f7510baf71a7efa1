"""`lit-gemma hygiene`: the tuning-data review from the command line.

  lit-gemma hygiene --dataset PATH [--eval_set PATH]
      [--format text|json|html] [--model SOURCE | --no_model]
      [--threshold COS] [--output FILE]

The checks are in tuning/hygiene.py and the renderings in tuning/report.py;
this module only reads arguments, loads the model and writes.
A bad file prints one line (`file:LINE: message`) and exits with status 2.
"""

import argparse
import sys
from collections.abc import Sequence

from lit_gemma import errors
from lit_gemma import progress
from lit_gemma.tuning import hygiene
from lit_gemma.tuning import report as report_lib

def load_lm(source: str):
  """The model for near duplicates, from the model layer."""
  from lit_gemma.models import loading  # pylint: disable=g-import-not-at-top
  return loading.load_model(source)


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m lit_gemma hygiene",
                                   description=__doc__.splitlines()[0])
  parser.add_argument("--dataset", required=True)
  parser.add_argument("--eval_set")
  parser.add_argument("--format", choices=report_lib.FORMATS, default="text")
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
                           progress=progress.callback(
                               "lit-gemma hygiene: model vectors",
                               unit=" queries"))
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
