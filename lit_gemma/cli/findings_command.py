"""`lit-gemma findings export`: the team's findings (a server's
--findings_dir, or a copy of its Cloud Storage folder) as JSONL or one
offline HTML page. Reads the folder only: no model, no server."""

from __future__ import annotations

import os

from lit_gemma import errors
from lit_gemma.cli import common
from lit_gemma.findings import export
from lit_gemma.findings import store


def register(commands) -> None:
  p = commands.add_parser(
      "findings", help="export the team's findings (JSONL, offline HTML)",
      description="What teammates kept on a server with --findings_dir.")
  actions = p.add_subparsers(dest="action", required=True,
                             parser_class=common.Parser)
  e = actions.add_parser(
      "export", help="every finding, as JSONL or one offline HTML page",
      description="Every finding in DIR (the server's --findings_dir, or a "
      "copy: gcloud storage cp -r gs://BUCKET/findings .), newest first in "
      "HTML.")
  e.add_argument("--dir", required=True, metavar="DIR",
                 help="the findings folder")
  e.add_argument("--format", choices=export.FORMATS, default="jsonl")
  e.add_argument("--out", metavar="FILE", help="write here, not stdout")
  e.set_defaults(run=run)


def run(args, *, lm, stdout, stderr) -> None:
  del lm
  if not os.path.isdir(args.dir):
    raise errors.ConfigError(f"--dir {args.dir}: no such folder")
  found = store.read(args.dir)
  common.write(args, export.RENDER[args.format](found), stdout)
  if args.out:
    stderr.write(f"{args.out}: {len(found)} findings\n")

