"""`lit-gemma batch` (every example of a dataset into resumable JSONL,
sharded for Cloud Run jobs) and `lit-gemma merge` (the shards as one file)."""

from __future__ import annotations

from lit_gemma import errors
from lit_gemma.cli import batch_shards
from lit_gemma.cli import common


def register(commands) -> None:
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
  common.check_arguments(p, "word")
  common.model_arguments(p)
  p.set_defaults(run=run_batch)

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
  p.set_defaults(run=run_merge)


def run_batch(args, *, lm, stdout, stderr) -> None:
  from lit_gemma.cli import batch  # pylint: disable=g-import-not-at-top
  from lit_gemma.lit import datasets  # pylint: disable=g-import-not-at-top

  if args.check and args.server:
    raise errors.ConfigError("--check needs a model loaded here; drop "
                             "--server")
  if args.max_examples is not None and args.max_examples < 1:
    raise errors.ConfigError("--max-examples must be >= 1")
  shard = batch_shards.resolve(args.shard)
  # A bad file is refused before a model loads.
  datasets.load(args.dataset, max_examples=args.max_examples)
  backend = common.backend(args, lm)
  summary = batch.run(backend, args.dataset, args.out, methods=args.methods,
                      check=args.granularity if args.check else None,
                      check_options=common.check_options(args),
                      progress_stream=stderr,
                      max_examples=args.max_examples, shard=shard)
  out = shard.path(args.out) if shard else args.out
  stdout.write(f"{out}: {summary.written} written, {summary.skipped} "
               f"already there, {summary.failed} failed\n")


def run_merge(args, *, lm, stdout, stderr) -> int:
  del lm
  from lit_gemma.cli import batch  # pylint: disable=g-import-not-at-top
  from lit_gemma.lit import datasets  # pylint: disable=g-import-not-at-top

  if args.max_examples is not None and args.max_examples < 1:
    raise errors.ConfigError("--max-examples must be >= 1")
  examples = datasets.load(args.dataset,
                           max_examples=args.max_examples).examples
  ids = batch.example_ids(list(examples))
  files = args.shards or batch_shards.shard_files(args.out)
  if not files:
    raise errors.ConfigError(f"--out {args.out}: no shard files "
                             f"{batch_shards.Shard(0, 2).path(args.out)}"
                             ".. beside it; name them after --out")
  merged = batch_shards.merge(ids, files)
  if not merged.ok:
    for line in batch_shards.problems(merged, ids):
      stderr.write(f"{common.PROG} merge: {line}\n")
    stderr.write(f"{common.PROG} merge: {args.out} not written\n")
    return 1
  batch_shards.write(merged.records, args.out)
  stdout.write(f"{args.out}: {len(merged.records)} examples from "
               f"{len(files)} shard files\n")
  return 0
