"""`lit-gemma tune`: LoRA tuning from reviewed data (supervised pairs, or
preference pairs with `--preference`: DPO against the frozen starting
model), rows marked `split: eval` and an `--eval_set` held out and measured
before and after, the result saved as a keras-hub preset folder that every
front end loads as a model source.

A tuning set that the hygiene review finds contaminated with its held-out
rows (tuning/contamination.py: exact, n-gram and, with the model, near
matches) is refused in one line unless `--allow_contamination`.
"""

from __future__ import annotations

import dataclasses
import json
import os

from lit_gemma import errors
from lit_gemma.cli import common


def register(commands) -> None:
  p = commands.add_parser(
      "tune", help="LoRA-tune a model on SFT or preference pairs",
      description="Tunes LoRA adapters on the query and value projections "
      "and saves the merged model as a keras-hub preset folder.")
  p.add_argument("--dataset", required=True, metavar="PATH",
                 help="a JSONL/CSV tuning set or prompt file with targets")
  p.add_argument("--out", required=True, metavar="FOLDER",
                 help="a new (or empty) folder for the tuned preset")
  p.add_argument("--preference", action="store_true",
                 help="DPO on preference pairs (a preference set, or rows "
                 "with a 'foil' the target is preferred to)")
  p.add_argument("--eval_set", metavar="PATH",
                 help="held-out rows in another file (besides split: eval)")
  p.add_argument("--model", default="embedded", metavar="SOURCE",
                 help="the starting model (default: %(default)s)")
  p.add_argument("--rank", type=int, default=8)
  p.add_argument("--epochs", type=int, default=2)
  p.add_argument("--learning-rate", type=float, default=1e-3)
  p.add_argument("--batch-size", type=int, default=4)
  p.add_argument("--beta", type=float, default=0.1,
                 help="DPO: how far the model may move from the start")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--max-length", type=int, default=1024,
                 help="most tokens of prompt + response")
  p.add_argument("--contamination", choices=("model", "text"),
                 default="model", help="how held-out rows are matched: "
                 "text (exact, n-gram) or model (also near duplicates by "
                 "the model's hidden states, as the hygiene review does)")
  p.add_argument("--allow_contamination", action="store_true",
                 help="train even if held-out rows appear in the training "
                 "rows (each match is printed as a warning)")
  p.set_defaults(run=run)


def _check(args) -> None:
  for name in ("rank", "epochs", "batch_size", "max_length"):
    if getattr(args, name) < 1:
      raise errors.ConfigError(f"--{name.replace('_', '-')} must be >= 1")
  if not args.learning_rate > 0 or not args.beta > 0:
    raise errors.ConfigError("--learning-rate and --beta must be > 0")
  if os.path.exists(args.out) and (not os.path.isdir(args.out)
                                   or os.listdir(args.out)):
    raise errors.ConfigError(f"--out {args.out}: exists and is not an empty "
                             "folder (the tuned preset needs a new one)")


def matches(data, lm, mode: str):
  """Held-out rows found in the training rows (the hygiene review's
  check: with the model's paraphrases, at its calibrated cosine, in
  `model` mode)."""
  from lit_gemma.tuning import contamination  # pylint: disable=g-import-not-at-top
  return contamination.find(data.train_queries, data.eval_queries,
                            lm=lm if mode == "model" else None)


def _refuse_or_warn(found, args, stderr) -> None:
  from lit_gemma.tuning import contamination  # pylint: disable=g-import-not-at-top
  if not args.allow_contamination:
    contamination.refuse(found, f"{args.dataset} (training rows)",
                         "drop those rows or pass --allow_contamination")
  for match in found:
    stderr.write(f"{common.PROG} tune: warning (allowed): "
                 f"{match.summary()}\n")


def run(args, *, lm, stdout, stderr) -> None:
  # pylint: disable=g-import-not-at-top
  from lit_gemma.evaluation import regressions
  from lit_gemma.models import loading
  from lit_gemma.training import data as data_lib
  from lit_gemma.training import lora
  from lit_gemma.training import trainer
  # pylint: enable=g-import-not-at-top
  _check(args)
  data = data_lib.read(args.dataset, args.eval_set, args.preference)
  found = None
  if args.contamination == "text":  # refused before the model loads
    found = matches(data, None, "text")
    _refuse_or_warn(found, args, stderr)
  if lm is None:
    lm = loading.load_model(args.model)
  data = data_lib.read(args.dataset, args.eval_set, args.preference,
                       lm.chat_format)
  if found is None:
    found = matches(data, lm, args.contamination)
    _refuse_or_warn(found, args, stderr)
  settings = trainer.Settings(
      rank=args.rank, learning_rate=args.learning_rate, epochs=args.epochs,
      batch_size=args.batch_size, beta=args.beta, seed=args.seed,
      max_length=args.max_length)
  outcome = trainer.tune(lm, data.train, data.held_out, settings,
                         preference=args.preference)
  lora.save(lm.causal_lm, args.out)
  summary = {"dataset": os.path.abspath(args.dataset),
             "eval_set": args.eval_set and os.path.abspath(args.eval_set),
             "start": args.model, "method": "dpo" if args.preference
             else "sft", "settings": dataclasses.asdict(settings),
             "train": outcome.train,
             "held_out": outcome.held_out, "steps": outcome.steps,
             "seconds": round(outcome.seconds, 1),
             "losses": [round(x, 5) for x in outcome.losses],
             "held_out_before": outcome.held_out_before,
             "held_out_after": outcome.held_out_after,
             "contamination_allowed": [m.summary() for m in found]}
  record = os.path.join(args.out, regressions.TUNING_RECORD)
  with open(record, "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=1)
  what = "margin" if args.preference else "loss"
  before = outcome.held_out_before.get(what)
  after = outcome.held_out_after.get(what)
  held = (f"held-out {what} {before:.4f} -> {after:.4f} on "
          f"{outcome.held_out} examples" if before is not None
          else "no held-out examples")
  stdout.write(f"{args.out}: tuned {outcome.steps} steps on "
               f"{outcome.train} examples in {outcome.seconds:.0f} s; "
               f"{held}\n")
