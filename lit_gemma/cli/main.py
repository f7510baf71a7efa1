"""`lit-gemma` (`python -m lit_gemma`): salience without the UI.

    lit-gemma explain --prompt "Water is made of" --target " hydrogen." \
        [--span-text hydrogen] [--granularity word] [--check] [--format json]
        [--foil " helium."] [--methods grad_l2 loo_word integrated_gradients]
    lit-gemma methods                     # each salience method and its cost
    lit-gemma batch --dataset prompts.jsonl --out results.jsonl [--shard I/N]
    lit-gemma merge --dataset prompts.jsonl --out results.jsonl
    lit-gemma compare --dataset templates.yaml [--format html --out cmp.html]
    lit-gemma findings export --dir DIR [--format html --out findings.html]
    lit-gemma evaluate --dataset templates.yaml [--model SOURCE]
    lit-gemma tune --dataset sft.jsonl --out FOLDER [--preference]
    lit-gemma regressions --before SOURCE --after SOURCE --dataset probes.jsonl
    lit-gemma serve --models ...          # the same as launch.py

Exit status: 0 done, 1 a bad input (one line naming the file and line, or
the setting), 2 bad arguments. Every command but `serve` and `findings`
runs on a model loaded here (`--model SOURCE`, see models/sources.py) or on
a running lit-gemma server (`--server URL`: no model load).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lit_gemma import errors
from lit_gemma.cli import batch_command
from lit_gemma.cli import common
from lit_gemma.cli import compare_command
from lit_gemma.cli import evaluate_command
from lit_gemma.cli import explain_command
from lit_gemma.cli import findings_command
from lit_gemma.cli import methods_command
from lit_gemma.cli import regressions_command
from lit_gemma.cli import serve_command
from lit_gemma.cli import tune_command

# Each command module adds its parser(s) and sets `run(args, *, lm, stdout,
# stderr)`; `serve` and `hygiene` take their own flags, passed through.
COMMANDS = (explain_command, batch_command, compare_command, evaluate_command,
            tune_command, regressions_command, findings_command,
            methods_command, serve_command)


def build_parser():
  parser = common.Parser(prog=common.PROG,
                         description=__doc__.split("\n\n")[0])
  commands = parser.add_subparsers(dest="command", required=True,
                                   parser_class=common.Parser)
  for command in COMMANDS:
    command.register(commands)
  p = commands.add_parser(
      "hygiene", help="review a tuning set: duplicates, overlap, coverage",
      description="The tuning-data hygiene report (hygiene --help lists "
      "its options).", add_help=False)
  p.add_argument("options", nargs="...")
  return parser


def main(argv: Sequence[str] | None = None, *, lm=None, stdout=None,
         stderr=None) -> int:
  """Runs one command; returns the exit status (`lm`: a loaded GemmaLM to
  use instead of loading --model, for tests and scripts)."""
  stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv[:1] == ["serve"]:
    return serve_command.run(argv[1:])
  if argv[:1] == ["hygiene"]:
    from lit_gemma.cli import hygiene_command  # pylint: disable=g-import-not-at-top
    return hygiene_command.main(argv[1:])
  try:
    args = build_parser().parse_args(argv)
  except SystemExit as e:
    return e.code if isinstance(e.code, int) else 2
  try:
    status = args.run(args, lm=lm, stdout=stdout, stderr=stderr)
  except errors.UserError as e:
    message = " ".join(str(e).split("\n")).strip()
    stderr.write(f"{common.PROG} {args.command}: {message}\n")
    return 1
  except KeyboardInterrupt:
    stderr.write(f"{common.PROG} {args.command}: interrupted\n")
    return 130
  return status or 0
