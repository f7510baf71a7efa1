"""`lit-gemma compare`: each prompt part's share of salience across the
versions of a template (which parts gained or lost)."""

from __future__ import annotations

import json

from lit_gemma import errors
from lit_gemma.cli import common


def register(commands) -> None:
  p = commands.add_parser(
      "compare", help="salience by prompt part across template versions",
      description="For template datapoints sharing their variables under "
      "different template ids: which parts gained or lost salience.")
  p.add_argument("--dataset", required=True, metavar="PATH",
                 help="a template file (.yaml or .json)")
  p.add_argument("--method", help="salience method (default: the one the "
                 "UI shows first)")
  p.add_argument("--format", choices=common.FORMATS, default="text")
  p.add_argument("--out", metavar="FILE", help="write here, not stdout")
  common.model_arguments(p)
  p.set_defaults(run=run)


def run(args, *, lm, stdout, stderr) -> None:
  del stderr
  from lit_gemma.cli import compare  # pylint: disable=g-import-not-at-top
  from lit_gemma.lit import datasets  # pylint: disable=g-import-not-at-top
  from lit_gemma.salience import methods  # pylint: disable=g-import-not-at-top

  args.method = args.method or methods.DEFAULT_METHOD
  datasets.load(args.dataset)
  backend = common.backend(args, lm)
  if args.method not in backend.methods:
    raise errors.ConfigError(f"--method {args.method}: known methods are "
                             f"{list(backend.methods)}")
  found = compare.groups(backend, args.dataset, args.method)
  if args.format == "html":
    common.write(args, compare.html(found, args.method), stdout)
  elif args.format == "json":
    common.write(args, json.dumps([g.to_dict() for g in found]) + "\n",
                 stdout)
  else:
    common.write(args, compare.text(found, args.method), stdout)
