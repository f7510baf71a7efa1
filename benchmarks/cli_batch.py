"""`lit-gemma batch` throughput on the bundled sets, and what `--check`
costs relative to `explain`.

  python benchmarks/cli_batch.py --model embedded [--max-examples 16]

For each bundled set: examples per second of `batch` (responses generated
where a set has no target, compiles included: each set is a fresh run, as a
user's overnight run is). Then, for texts with targets: the median time of a
fresh `explain` (the engine's kept forward passes forgotten first) and of the
faithfulness check on top of it (ablation of every word, the top-k and 20
random deletions), each warmed up once, and their ratio.
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from lit_gemma.cli import backends  # noqa: E402
from lit_gemma.cli import batch  # noqa: E402
from lit_gemma.lit import datasets  # noqa: E402
from lit_gemma import explain  # noqa: E402
from lit_gemma.explain import faithfulness  # noqa: E402
from lit_gemma.models import loading  # noqa: E402

TEXTS = [
    ("The capital of France is", " Paris, a city on the Seine."),
    ("Water is made of two elements, namely", " hydrogen and oxygen."),
    ("Q: What is 12 plus 7?\nA:", " 19"),
    ("Bees dance to show the other bees", " where the flowers are."),
]


def _batch_rates(backend, max_examples):
  print(f"{'set':<18} {'examples':>8} {'seconds':>8} {'examples/s':>10}")
  with tempfile.TemporaryDirectory() as folder:
    for name, file in datasets.BUNDLED_FILES.items():
      out = os.path.join(folder, f"{name}.jsonl")
      start = time.perf_counter()
      summary = batch.run(backend, str(datasets.BUNDLED_DIR / file), out,
                          max_examples=max_examples,
                          progress_stream=open(os.devnull, "w"))
      seconds = time.perf_counter() - start
      print(f"{name:<18} {summary.written:>8} {seconds:>8.1f} "
            f"{summary.written / seconds:>10.2f}", flush=True)


def _check_cost(lm, granularity):
  explain_s, check_s = [], []
  for prompt, target in TEXTS:
    for warm in (True, False):
      lm.engine.forget()
      start = time.perf_counter()
      exp = explain.explain(lm, prompt, target)
      middle = time.perf_counter()
      faithfulness.check(lm, exp, granularity)
      end = time.perf_counter()
      if not warm:
        explain_s.append(middle - start)
        check_s.append(end - middle)
  e, c = statistics.median(explain_s), statistics.median(check_s)
  print(f"\nexplain (fresh text): median {e * 1000:.0f} ms; --check by "
        f"{granularity} adds {c * 1000:.0f} ms: {c / e:.1f}x explain "
        f"({(e + c) / e:.1f}x in all)")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", default="embedded")
  parser.add_argument("--max-examples", type=int, default=None,
                      help="first N examples of each set (default: all)")
  parser.add_argument("--granularity", default="word")
  args = parser.parse_args()
  lm = loading.load_model(args.model)
  backend = backends.Local(lm, max_length=loading.DEFAULT_MAX_LENGTH,
                           max_new_tokens=64)
  _batch_rates(backend, args.max_examples)
  _check_cost(lm, args.granularity)


if __name__ == "__main__":
  main()
