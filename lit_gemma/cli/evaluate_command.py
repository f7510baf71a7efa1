"""`lit-gemma evaluate`: a checkpoint judged on a dataset's evaluation rows
(`split: eval`), per template id and per route: target log-likelihood,
exact/contains match for short answers, ROUGE-L for longer ones, refusal
and over-refusal rates (evaluation/summary.py). A file whose few-shot
examples or dev rows also appear among its evaluation rows is refused in
one line (evaluation/leaks.py)."""

from __future__ import annotations

from lit_gemma.cli import checkpoints
from lit_gemma.cli import common


def register(commands) -> None:
  p = commands.add_parser(
      "evaluate", help="judge templates on the evaluation rows",
      description="Figures per template id (and route) on the rows marked "
      "split: eval.")
  p.add_argument("--dataset", required=True, metavar="PATH",
                 help="a template, prompt or tuning file with split: eval "
                 "rows (or a template's eval_rows_file)")
  p.add_argument("--model", default="embedded", metavar="SOURCE",
                 help="model source (default: %(default)s)")
  p.add_argument("--format", choices=common.FORMATS, default="text")
  p.add_argument("--out", metavar="FILE", help="write here, not stdout")
  checkpoints.settings_arguments(p)
  p.set_defaults(run=run)


def run(args, *, lm, stdout, stderr) -> None:
  del stderr
  # pylint: disable=g-import-not-at-top
  from lit_gemma.evaluation import leaks
  from lit_gemma.evaluation import report
  from lit_gemma.evaluation import runner
  from lit_gemma.lit import datasets
  # pylint: enable=g-import-not-at-top
  checkpoints.check_settings(args)
  datasets.load(args.dataset)  # A bad file fails before the model loads.
  matches = leaks.refuse(args.dataset, args.allow_contamination)
  checkpoint = checkpoints.Checkpoint(
      lm if lm is not None else checkpoints.load(args.model, args), args)
  rows = runner.evaluate(checkpoint.lm, checkpoint.examples(args.dataset),
                         checkpoint.responses, where=args.dataset,
                         max_length=args.max_length)
  built = report.build(args.dataset, checkpoint.name, rows, matches)
  common.write(args, report.RENDER[args.format](built), stdout)
