"""`lit-gemma` (`python -m lit_gemma`): salience without the UI.

    lit-gemma explain --prompt "Water is made of" --target " hydrogen." \
        [--span-text hydrogen] [--granularity word] [--check] [--format json]
    lit-gemma batch --dataset prompts.jsonl --out results.jsonl [--shard I/N]
    lit-gemma merge --dataset prompts.jsonl --out results.jsonl
    lit-gemma compare --dataset templates.yaml [--format html --out cmp.html]
    lit-gemma serve --models ...          # the same as launch.py

Exit status: 0 done, 1 a bad input (one line naming the file and line, or
the setting), 2 bad arguments. Every command but `serve` runs on a model
loaded here (`--model SOURCE`, see sources.py) or on a running lit-gemma
server (`--server URL`: no model load).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence

from lit_gemma import distribution as distribution_lib
from lit_gemma import errors
from lit_gemma import loading
from lit_gemma import shard_merge

PROG = "lit-gemma"
FORMATS = ("text", "json", "html")


class _Parser(argparse.ArgumentParser):
  """Bad arguments: one line on stderr and exit 2 (not argparse's usage)."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _span(value: str) -> tuple[int, int]:
  start, sep, end = value.partition(":")
  try:
    if not sep:
      raise ValueError
    return int(start), int(end)
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"{value!r} is not START:END (target token indices)") from None


def _model_arguments(parser) -> None:
  group = parser.add_argument_group("model")
  where = group.add_mutually_exclusive_group()
  where.add_argument("--model", default="embedded", metavar="SOURCE",
                     help="model source: 'embedded', a keras-hub preset, a "
                     "folder or a .gguf file (default: %(default)s)")
  where.add_argument("--server", metavar="URL",
                     help="use a running lit-gemma server instead of "
                     "loading a model")
  group.add_argument("--server-model", metavar="NAME",
                     help="the server's model (default: its only one)")
  group.add_argument("--methods", nargs="+", metavar="METHOD",
                     help="salience methods (default: all)")
  group.add_argument("--max-length", type=int,
                     default=loading.DEFAULT_MAX_LENGTH,
                     help="most tokens of prompt + target")
  group.add_argument("--max-new-tokens", type=int, default=64,
                     help="most tokens generated for a missing target")
  group.add_argument("--precision", choices=loading.PRECISIONS,
                     default="float32")
  group.add_argument("--batch-size", type=int, default=8,
                     help="texts per batched salience call")
  group.add_argument("--distribution", default="none",
                     help="'none', or 'model_parallel[:N]': split the model "
                     "over N devices (default N: all)")


def _check_arguments(parser, granularity_default: str) -> None:
  from lit_gemma import segments  # pylint: disable=g-import-not-at-top

  parser.add_argument("--granularity",
                      choices=segments.GRANULARITIES + (segments.PART,),
                      default=granularity_default)
  parser.add_argument("--check", action="store_true",
                      help="also run the deletion test and the rank "
                      "correlation with ablation (faithfulness.py)")
  parser.add_argument("--k", type=int, help="segments each deletion "
                      "removes (default: a fifth of them)")
  parser.add_argument("--draws", type=int, default=20,
                      help="random deletions (default: %(default)s)")
  parser.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
  commands = parser.add_subparsers(dest="command", required=True,
                                   parser_class=_Parser)
  p = commands.add_parser("explain", help="explain one (prompt, target)",
                          description="Salience of one prompt + target.")
  p.add_argument("--prompt", required=True)
  p.add_argument("--target", help="the text to explain (default: the "
                 "model's response to the prompt)")
  span = p.add_mutually_exclusive_group()
  span.add_argument("--span", type=_span, metavar="START:END",
                    help="explain these target tokens (default: all)")
  span.add_argument("--span-text", metavar="TEXT",
                    help="explain the target tokens covering this text")
  _check_arguments(p, "word")
  p.add_argument("--format", choices=FORMATS, default="text")
  p.add_argument("--out", metavar="FILE", help="write here, not stdout")
  _model_arguments(p)

  p = commands.add_parser(
      "batch", help="explain every example of a dataset",
      description="Explain every example of a dataset into JSONL; "
      "rerun to resume an interrupted run.")
  p.add_argument("--dataset", required=True, metavar="PATH",
                 help="a .jsonl, .csv, .txt, .json or .yaml file")
  p.add_argument("--out", required=True, metavar="FILE",
                 help="results, one JSON line per example")
  p.add_argument("--max-examples", type=int, metavar="N",
                 help="only the first N examples")
  p.add_argument("--shard", metavar="I/N", help="explain only shard I "
                 "(0-based) of N, the examples whose index modulo N is I, "
                 "into OUT.shard-I-of-N; default: from CLOUD_RUN_TASK_INDEX "
                 "and CLOUD_RUN_TASK_COUNT when set (this flag wins)")
  _check_arguments(p, "word")
  _model_arguments(p)

  p = commands.add_parser(
      "merge", help="put a sharded batch run's files together",
      description="Check that every example of the dataset is in the shard "
      "files exactly once and write them as one batch run would, in the "
      "dataset's order.")
  p.add_argument("--dataset", required=True, metavar="PATH",
                 help="the dataset the shards explained")
  p.add_argument("--out", required=True, metavar="FILE",
                 help="the merged results; the shards are read from "
                 "OUT.shard-*-of-* unless given")
  p.add_argument("--max-examples", type=int, metavar="N",
                 help="as given to batch")
  p.add_argument("shards", nargs="*", metavar="SHARD_FILE",
                 help="the shard files (default: OUT.shard-*-of-*)")

  p = commands.add_parser(
      "compare", help="salience by prompt part across template versions",
      description="For template datapoints sharing their variables under "
      "different template ids: which parts gained or lost salience.")
  p.add_argument("--dataset", required=True, metavar="PATH",
                 help="a template file (.yaml or .json)")
  p.add_argument("--method", default="grad_l2")
  p.add_argument("--format", choices=FORMATS, default="text")
  p.add_argument("--out", metavar="FILE", help="write here, not stdout")
  _model_arguments(p)

  p = commands.add_parser(
      "serve", help="start the LIT server (the same as launch.py)",
      description="Start the LIT server; takes launch.py's flags "
      "(serve --helpfull lists them).", add_help=False)
  p.add_argument("flags", nargs=argparse.REMAINDER)

  p = commands.add_parser(
      "hygiene", help="review a tuning set: duplicates, overlap, coverage",
      description="The tuning-data hygiene report (hygiene --help lists "
      "its options).", add_help=False)
  p.add_argument("options", nargs=argparse.REMAINDER)
  return parser


def _backend(args, lm):
  from lit_gemma import backends  # pylint: disable=g-import-not-at-top

  if args.server:
    from lit_gemma import remote  # pylint: disable=g-import-not-at-top

    return backends.Served(remote.Remote(args.server, args.server_model))
  if args.server_model:
    raise errors.ConfigError("--server-model needs --server")
  for name in ("max_length", "max_new_tokens", "batch_size"):
    if getattr(args, name) < 1:
      raise errors.ConfigError(f"--{name.replace('_', '-')} must be >= 1")
  if lm is None:
    distribution_lib.parse(args.distribution)
    lm = loading.load_model(args.model, loading.ModelSettings(
        precision=args.precision, batch_size=args.batch_size,
        distribution=args.distribution))
  return backends.Local(lm, max_length=args.max_length,
                        max_new_tokens=args.max_new_tokens)


def _check_options(args) -> dict:
  return {"k": args.k, "draws": args.draws, "seed": args.seed}


def _write(args, text: str, stdout) -> None:
  if args.out:
    try:
      with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    except OSError as e:
      raise errors.ConfigError(f"--out {args.out}: {e.strerror}") from None
  else:
    stdout.write(text)


def _explain(args, lm, stdout) -> None:
  from lit_gemma import explain  # pylint: disable=g-import-not-at-top
  from lit_gemma import report  # pylint: disable=g-import-not-at-top

  if args.check and args.server:
    raise errors.ConfigError("--check needs a model loaded here: it scores "
                             "the prompt with segments removed; drop --server")
  backend = _backend(args, lm)
  target = args.target
  if target is None:
    target = backend.generate([args.prompt])[0]
  span = args.span if args.span is not None else args.span_text
  exp = backend.explain([explain.Item(args.prompt, target, span)],
                        args.methods)[0]
  if args.granularity == "part":
    exp.segments("part", exp.methods[0])  # refuses: free text has no parts
  if args.check:
    exp = dataclasses.replace(exp, faithfulness=backend.check(
        exp, args.granularity, methods=exp.methods, **_check_options(args)))
  if args.format == "json":
    _write(args, exp.to_json() + "\n", stdout)
  elif args.format == "html":
    _write(args, report.html_report(exp, args.granularity, exp.methods),
           stdout)
  else:
    colour = (not args.out and hasattr(stdout, "isatty") and stdout.isatty()
              and "NO_COLOR" not in os.environ)
    _write(args, report.text(exp, args.granularity, exp.methods, colour),
           stdout)


def _batch(args, lm, stdout, stderr) -> None:
  from lit_gemma import batch  # pylint: disable=g-import-not-at-top
  from lit_gemma import datasets  # pylint: disable=g-import-not-at-top

  if args.check and args.server:
    raise errors.ConfigError("--check needs a model loaded here; drop "
                             "--server")
  if args.max_examples is not None and args.max_examples < 1:
    raise errors.ConfigError("--max-examples must be >= 1")
  shard = shard_merge.resolve(args.shard)
  # A bad file is refused before a model loads.
  datasets.load(args.dataset, max_examples=args.max_examples)
  backend = _backend(args, lm)
  summary = batch.run(backend, args.dataset, args.out, methods=args.methods,
                      check=args.granularity if args.check else None,
                      check_options=_check_options(args),
                      progress_stream=stderr,
                      max_examples=args.max_examples, shard=shard)
  out = shard.path(args.out) if shard else args.out
  stdout.write(f"{out}: {summary.written} written, {summary.skipped} "
               f"already there, {summary.failed} failed\n")


def _merge(args, stdout, stderr) -> int:
  from lit_gemma import batch  # pylint: disable=g-import-not-at-top
  from lit_gemma import datasets  # pylint: disable=g-import-not-at-top

  if args.max_examples is not None and args.max_examples < 1:
    raise errors.ConfigError("--max-examples must be >= 1")
  examples = datasets.load(args.dataset,
                           max_examples=args.max_examples).examples
  ids = batch.example_ids(list(examples))
  files = args.shards or shard_merge.shard_files(args.out)
  if not files:
    raise errors.ConfigError(f"--out {args.out}: no shard files "
                             f"{shard_merge.Shard(0, 2).path(args.out)}"
                             ".. beside it; name them after --out")
  merged = shard_merge.merge(ids, files)
  if not merged.ok:
    for line in shard_merge.problems(merged, ids):
      stderr.write(f"{PROG} merge: {line}\n")
    stderr.write(f"{PROG} merge: {args.out} not written\n")
    return 1
  shard_merge.write(merged.records, args.out)
  stdout.write(f"{args.out}: {len(merged.records)} examples from "
               f"{len(files)} shard files\n")
  return 0


def _compare(args, lm, stdout) -> None:
  from lit_gemma import compare  # pylint: disable=g-import-not-at-top
  from lit_gemma import datasets  # pylint: disable=g-import-not-at-top

  datasets.load(args.dataset)
  backend = _backend(args, lm)
  if args.method not in backend.methods:
    raise errors.ConfigError(f"--method {args.method}: known methods are "
                             f"{list(backend.methods)}")
  found = compare.groups(backend, args.dataset, args.method)
  if args.format == "html":
    _write(args, compare.html(found, args.method), stdout)
  elif args.format == "json":
    _write(args, json.dumps([g.to_dict() for g in found]) + "\n", stdout)
  else:
    _write(args, compare.text(found, args.method), stdout)


def _serve(flags: Sequence[str]) -> int:
  """launch.py, with these flags."""
  # pylint: disable=g-import-not-at-top
  from absl import app
  from absl import flags as absl_flags
  from lit_nlp import server_flags

  from lit_gemma import cli_flags
  from lit_gemma import server
  # pylint: enable=g-import-not-at-top

  cli_flags.define_flags()
  absl_flags.adopt_module_key_flags(cli_flags)
  absl_flags.adopt_module_key_flags(server_flags)
  try:
    app.run(server.main, argv=[f"{PROG} serve", *flags],
            flags_parser=server.parse_flags)
  except SystemExit as e:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  return 0


def main(argv: Sequence[str] | None = None, *, lm=None, stdout=None,
         stderr=None) -> int:
  """Runs one command; returns the exit status (`lm`: a loaded GemmaLM to
  use instead of loading --model, for tests and scripts)."""
  stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv[:1] == ["serve"]:
    return _serve(argv[1:])
  if argv[:1] == ["hygiene"]:
    from lit_gemma import hygiene_cli  # pylint: disable=g-import-not-at-top
    return hygiene_cli.main(argv[1:])
  try:
    args = build_parser().parse_args(argv)
  except SystemExit as e:
    return e.code if isinstance(e.code, int) else 2
  try:
    if args.command == "explain":
      _explain(args, lm, stdout)
    elif args.command == "batch":
      _batch(args, lm, stdout, stderr)
    elif args.command == "merge":
      return _merge(args, stdout, stderr)
    else:
      _compare(args, lm, stdout)
  except errors.UserError as e:
    message = " ".join(str(e).split("\n")).strip()
    stderr.write(f"{PROG} {args.command}: {message}\n")
    return 1
  except KeyboardInterrupt:
    stderr.write(f"{PROG} {args.command}: interrupted\n")
    return 130
  return 0
