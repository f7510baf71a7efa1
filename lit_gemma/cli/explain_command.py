"""`lit-gemma explain`: salience of one prompt + target, as coloured text,
self-contained HTML or JSON, with the deletion test on request."""

from __future__ import annotations

import dataclasses
import os

from lit_gemma import errors
from lit_gemma.cli import common


def register(commands) -> None:
  p = commands.add_parser("explain", help="explain one (prompt, target)",
                          description="Salience of one prompt + target.")
  p.add_argument("--prompt", required=True)
  p.add_argument("--target", help="the text to explain (default: the "
                 "model's response to the prompt)")
  span = p.add_mutually_exclusive_group()
  span.add_argument("--span", type=common.span, metavar="START:END",
                    help="explain these target tokens (default: all)")
  span.add_argument("--span-text", metavar="TEXT",
                    help="explain the target tokens covering this text")
  p.add_argument("--foil", metavar="TEXT",
                 help="contrast the target with this text: every map then "
                 "explains log p(target span) - log p(foil) (why this "
                 "target rather than the foil)")
  common.check_arguments(p, "word")
  p.add_argument("--format", choices=common.FORMATS, default="text")
  p.add_argument("--out", metavar="FILE", help="write here, not stdout")
  common.model_arguments(p)
  p.set_defaults(run=run)


def run(args, *, lm, stdout, stderr) -> None:
  from lit_gemma import explain  # pylint: disable=g-import-not-at-top
  from lit_gemma import progress  # pylint: disable=g-import-not-at-top
  from lit_gemma.explain import report  # pylint: disable=g-import-not-at-top

  if args.check and args.server:
    raise errors.ConfigError("--check needs a model loaded here: it scores "
                             "the prompt with segments removed; drop --server")
  backend = common.backend(args, lm)
  if hasattr(backend, "progress"):  # leave-one-out, paths, checks: long
    backend.progress = progress.callback("passes", unit="pass",
                                         stream=stderr)
  target = args.target
  if target is None:
    target = backend.generate([args.prompt])[0]
  span = args.span if args.span is not None else args.span_text
  exp = backend.explain([explain.Item(args.prompt, target, span,
                                     foil=args.foil or "")], args.methods)[0]
  if args.granularity == "part":
    exp.segments("part", exp.methods[0])  # refuses: free text has no parts
  if args.check:
    exp = dataclasses.replace(exp, faithfulness=backend.check(
        exp, args.granularity, methods=exp.methods,
        **common.check_options(args)))
  if args.format == "json":
    common.write(args, exp.to_json() + "\n", stdout)
  elif args.format == "html":
    common.write(args, report.html_report(exp, args.granularity, exp.methods),
                 stdout)
  else:
    colour = (not args.out and hasattr(stdout, "isatty") and stdout.isatty()
              and "NO_COLOR" not in os.environ)
    common.write(args, report.text(exp, args.granularity, exp.methods,
                                   colour), stdout)
