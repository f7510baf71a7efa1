"""How faithful each salience method is, and what one map costs.

  python benchmarks/faithfulness.py --model embedded [--json OUT]

Over the fixed prompt set `benchmarks/data/faithfulness_prompts.jsonl`
(44 prompts: facts, few-shot classification, templates, chat turns,
multi-sentence context; each with the target it explains), every method is
checked at every granularity where a deletion test applies (at least 3
prompt segments; k >= 2, a fifth of them; 20 random draws; seed 0), with
explain/faithfulness.py, the code behind `--check` and the UI's verdict
columns. Per method and granularity it prints:

  tested     prompts with enough segments
  better     share of maps better than random (top-k drop above the random
             drops' 90th percentile)
  spearman   median rank correlation with leave-one-out ablation
  compr      median comprehensiveness (AOPC over k' = 1..k, nats; higher
             is better)
  suff       median sufficiency (AOPC, nats; lower is better)

Ablation maps (leave-one-out, fitted, greedy deletion) are checked only at
their own granularity (the deletion tests of leave-one-out and greedy
deletion are partly circular: they rank by removals of the prompt; read
their sufficiency). Then seconds per map (the median of `--repeats` fresh
texts after one call that compiles) for prompts of 128 and 512 tokens with
an 8-token target; an ablation map that needs more than `--most-passes`
forward passes is timed on that many (greedy deletion: of its first step)
and scaled (marked ~). Integrated
gradients' completeness (how far their sum is from the log-likelihood
difference to the padded prompt) is the median relative gap over the set.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from lit_gemma import errors  # noqa: E402
from lit_gemma import explain  # noqa: E402
from lit_gemma import paths  # noqa: E402
from lit_gemma.explain import ablation  # noqa: E402
from lit_gemma.explain import ablation_maps  # noqa: E402
from lit_gemma.explain import api  # noqa: E402
from lit_gemma.explain import faithfulness  # noqa: E402
from lit_gemma.explain import gradient_maps  # noqa: E402
from lit_gemma.explain import registry  # noqa: E402
from lit_gemma.models import lm as lm_lib  # noqa: E402
from lit_gemma.salience import compilation  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "benchmarks/data/faithfulness_prompts.jsonl"
LONG_TEXT = ROOT / "tests/data/gemma3_270m_long_text.json"
TOKEN_METHODS = ("grad_l2", "grad_dot_input", "integrated_gradients")
GRANULARITIES = ("word", "sentence", "line")


def read_prompts(path) -> list[dict]:
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]


def check_prompt(lm, row, methods, granularities) -> list[dict]:
  """Verdict records of one prompt: one per (method, granularity) tested."""
  token_methods = [m for m in methods if registry.get(m).kind !=
                   registry.ABLATION]
  ablations = [m for m in methods  # loo_*, fit_*, greedy_*: one each
               if registry.get(m).kind == registry.ABLATION]
  exp = explain.explain(lm, row["prompt"], row["target"],
                        methods=token_methods + ablations)
  out = []
  for granularity in granularities:
    checked = token_methods + [m for m in ablations if
                               registry.get(m).granularity == granularity]
    if not checked:  # (check() would take every method of `exp`)
      continue
    try:
      verdicts = faithfulness.check(lm, exp, granularity, methods=checked)
    except faithfulness.FaithfulnessError:
      continue  # fewer than 3 segments at this granularity
    for v in verdicts:
      out.append({"kind": row["kind"], "prompt": row["prompt"],
                  "method": v.method, "granularity": granularity,
                  "segments": len(v.segments), "k": v.k,
                  "better": v.better_than_random, "gain": v.gain,
                  "spearman": v.spearman,
                  "comprehensiveness": v.comprehensiveness,
                  "sufficiency": v.sufficiency})
  if "integrated_gradients" in methods:
    _, complete = gradient_maps.integrated_gradients(
        lm, api.skeleton(lm, explain.Item(row["prompt"], row["target"])))
    out.append({"kind": row["kind"], "prompt": row["prompt"],
                "completeness_gap": complete.gap,
                "completeness_expected": complete.expected})
  return out


def _median(values):
  values = [v for v in values if v is not None]
  return statistics.median(values) if values else None


def summary(records) -> list[dict]:
  rows = []
  keys = dict.fromkeys((r["method"], r["granularity"]) for r in records
                       if "method" in r)
  for method, granularity in keys:
    mine = [r for r in records if r.get("method") == method
            and r["granularity"] == granularity]
    rows.append({
        "method": method, "granularity": granularity, "tested": len(mine),
        "better": sum(r["better"] for r in mine) / len(mine),
        "spearman": _median(r["spearman"] for r in mine),
        "compr": _median(r["comprehensiveness"] for r in mine),
        "suff": _median(r["sufficiency"] for r in mine)})
  return rows


def _timed(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def time_maps(lm, methods, lengths, repeats, most_passes) -> list[dict]:
  """Seconds per fresh map of each method at each prompt length."""
  corpus = json.loads(LONG_TEXT.read_text())["text"]
  ids = lm.encode(corpus * 2)
  rows = []
  for length in lengths:
    items = []
    for shift in range(repeats + 1):
      first, end = 1 + shift, 1 + shift + length
      cut = end - 8  # an 8-token target, starting at a word
      while not lm.token_strings([ids[cut]])[0].startswith("▁"):
        cut -= 1
      items.append(explain.Item(lm.decode(ids[first:cut]),
                                lm.decode(ids[cut:end])))
    row = {"tokens": length}
    for method in methods:
      try:
        row[method] = _seconds_per_map(lm, method, items, most_passes)
      except errors.UserError:  # greedy deletion past its most segments
        row[method] = "refused"
    rows.append(row)
  return rows


def _seconds_per_map(lm, method, items, most_passes) -> str:
  """The median seconds of `method`'s map of each item but the first (which
  compiles); `~` where scaled from the first `most_passes` passes."""
  seconds, scale = [], 1.0
  for item in items:
    lm.engine.forget()
    ablation.rows_of(lm).clear()  # nothing kept: a fresh map
    if registry.get(method).kind == registry.ABLATION:
      exp = api.skeleton(lm, item)
      prompts = list(dict.fromkeys(ablation_maps.prompts(exp, method)))
      total = ablation_maps.passes(exp, method)
      if total > most_passes:  # time the first passes, then scale
        timed = prompts[:most_passes]
        scale = total / len(timed)
        seconds.append(_timed(lambda: ablation.log_likelihoods(
            lm, exp, timed)) * scale)
        continue
    seconds.append(_timed(lambda: explain.explain_many(
        lm, [item], methods=[method])))
  warm = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
  return f"{'~' if scale > 1 else ''}{warm:.2f}"


def print_table(rows) -> None:
  if not rows:  # --limit 0: the timings alone
    print("(no rows)")
    return
  header = list(rows[0])
  print(" | ".join(header))
  for row in rows:
    print(" | ".join("n/a" if row[k] is None else
                     f"{row[k]:.2f}" if isinstance(row[k], float) else
                     str(row[k]) for k in header))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", default="embedded")
  parser.add_argument("--prompts", default=str(PROMPTS))
  parser.add_argument("--methods", nargs="+",
                      default=list(TOKEN_METHODS) + list(
                          registry.LEAVE_ONE_OUT) + list(registry.FITTED) +
                      list(registry.GREEDY))
  parser.add_argument("--limit", type=int, help="only the first N prompts")
  parser.add_argument("--lengths", default="128,512",
                      help="prompt lengths timed ('' for none)")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--most-passes", type=int, default=48)
  parser.add_argument("--json", metavar="OUT",
                      help="also write every verdict record here")
  args = parser.parse_args()

  compilation.enable_persistent_cache()
  start = time.perf_counter()
  lm = lm_lib.GemmaLM.load(args.model)
  print(f"model {args.model} loaded in {time.perf_counter() - start:.1f} s;"
        f" {os.cpu_count()} CPUs; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; compile cache "
        f"{paths.jax_cache_dir()}")
  prompts = read_prompts(args.prompts)[: args.limit]
  records = []
  begin = time.perf_counter()
  for n, row in enumerate(prompts, 1):
    records += check_prompt(lm, row, args.methods, GRANULARITIES)
    print(f"  {n}/{len(prompts)} prompts checked "
          f"({time.perf_counter() - begin:.0f} s)", file=sys.stderr)
  if args.json:
    with open(args.json, "w", encoding="utf-8") as f:
      for record in records:
        f.write(json.dumps(record) + "\n")
  print(f"\nfaithfulness over {len(prompts)} prompts of {args.prompts} "
        f"(k >= 2, 20 random draws, seed 0):")
  print_table(summary(records))
  gaps = [abs(r["completeness_gap"]) / max(abs(r["completeness_expected"]),
                                           1e-9)
          for r in records if "completeness_gap" in r]
  if gaps:
    print(f"integrated_gradients ({registry.get('integrated_gradients').cost}"
          f"): median relative completeness gap {np.median(gaps):.4f}, "
          f"90th percentile {np.percentile(gaps, 90):.4f}")
  lengths = [int(n) for n in args.lengths.split(",") if n]
  if lengths:
    print(f"\nseconds per map (median of {args.repeats} fresh texts, after "
          f"one that compiles; ~: scaled from {args.most_passes} passes; "
          f"load average {os.getloadavg()[0]:.1f}):")
    print_table(time_maps(lm, args.methods, lengths, args.repeats,
                          args.most_passes))


if __name__ == "__main__":
  main()
