"""`lit-gemma regressions`: two checkpoints on the same rows (a safety
probe set, an evaluation set): the summary figures of both, the rows that
got worse ranked by how much, refusal changes, and for the worst rows the
two salience maps side by side (evaluation/regressions.py)."""

from __future__ import annotations

from lit_gemma import errors
from lit_gemma.cli import checkpoints
from lit_gemma.cli import common


def register(commands) -> None:
  p = commands.add_parser(
      "regressions", help="what got worse from one checkpoint to another",
      description="Compares two checkpoints on a dataset's rows (its "
      "split: eval rows when it marks some, else all).")
  p.add_argument("--before", required=True, metavar="SOURCE",
                 help="the starting checkpoint (a model source)")
  p.add_argument("--after", required=True, metavar="SOURCE",
                 help="the tuned checkpoint (a model source)")
  p.add_argument("--dataset", required=True, metavar="PATH")
  p.add_argument("--top", type=int, default=10,
                 help="rows that got worse listed (default: %(default)s)")
  p.add_argument("--maps", type=int, default=3,
                 help="worst rows shown with both salience maps")
  p.add_argument("--method", help="salience method of the maps (default: "
                 "the one the UI shows first)")
  p.add_argument("--format", choices=common.FORMATS, default="text")
  p.add_argument("--out", metavar="FILE", help="write here, not stdout")
  checkpoints.settings_arguments(p)
  p.set_defaults(run=run)


def run(args, *, lm, stdout, stderr) -> None:
  del lm, stderr
  from lit_gemma.evaluation import regressions_report  # pylint: disable=g-import-not-at-top
  built = report(args)
  common.write(args, regressions_report.RENDER[args.format](built), stdout)


def report(args) -> dict:
  """The report of parsed arguments (evaluation/regressions.build)."""
  # pylint: disable=g-import-not-at-top
  from lit_gemma import fields
  from lit_gemma.evaluation import leaks
  from lit_gemma.evaluation import regressions
  from lit_gemma.evaluation import runner
  from lit_gemma.lit import datasets
  from lit_gemma.models import loading
  from lit_gemma.prompts import splits
  from lit_gemma.salience import methods
  # pylint: enable=g-import-not-at-top
  checkpoints.check_settings(args)
  if args.top < 0 or args.maps < 0:
    raise errors.ConfigError("--top and --maps must be >= 0")
  method = args.method or methods.DEFAULT_METHOD
  examples = datasets.load(args.dataset).examples  # fail before loading
  leaks.refuse(args.dataset, args.allow_contamination)
  split = fields.EVAL if any(splits.of_example(e) == fields.EVAL
                             for e in examples) else None
  loaded = loading.load_models(
      (("before", args.before), ("after", args.after)),
      loading.ModelSettings(precision=args.precision))
  if method not in loaded["before"].engine.methods:
    raise errors.ConfigError(f"--method {method}: known methods are "
                             f"{list(loaded['before'].engine.methods)}")
  before = checkpoints.Checkpoint(loaded["before"], args)
  after = checkpoints.Checkpoint(loaded["after"], args, before.cache)
  # One set of rows for both (a dynamic template routed by "before").
  rows = before.examples(args.dataset)
  measured = {name: runner.evaluate(
      c.lm, rows, c.responses, where=args.dataset, split=split,
      max_length=args.max_length, label=f"measure {name}")
              for name, c in (("before", before), ("after", after))}
  worst = regressions.worse(regressions.changes(
      measured["before"], measured["after"]))[:args.maps]
  salience = regressions.maps(loaded["before"], loaded["after"], worst,
                              method, args.max_length)
  return regressions.build(
      args.before, args.after, args.dataset,
      "its split: eval rows" if split else "every row",
      measured["before"], measured["after"], salience, args.top,
      regressions.tuned_on(args.after, args.dataset))
