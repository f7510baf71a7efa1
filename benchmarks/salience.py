"""Salience engine speed: compile, warm calls, span changes, forward passes
and recompiles, for prompts of about 32, 128 and 512 tokens.

  python benchmarks/salience.py --model embedded [--precision float32]

Each row uses an 8-token target at the end of the text. "salience" is a
call on a text the engine has not seen (forward + backward); "span change"
is a new target mask on a kept text (backward only); "forward" is the
decoder stack alone; "recompiles" counts jit cache misses over 20 calls of
the same bucket (10 new texts, 10 span changes).
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from lit_gemma.models import lm as lm_lib  # noqa: E402
from lit_gemma import paths  # noqa: E402
from lit_gemma.salience import compilation  # noqa: E402

import numpy as np  # noqa: E402

_TEXT = pathlib.Path(__file__).resolve().parents[1] / (
    "tests/data/gemma3_270m_long_text.json")
TARGET_TOKENS = 8


def _mask(length: int, start: int, stop: int) -> np.ndarray:
  mask = np.zeros(length, np.float32)
  mask[start:stop] = 1
  return mask


def _timed(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def bench_length(lm, corpus_ids, length: int, repeats: int) -> dict:
  engine = lm.engine
  texts = [corpus_ids[:1] + corpus_ids[1 + s : length + s]
           for s in range(repeats + 1)]
  end = _mask(length, length - TARGET_TOKENS, length)
  earlier = _mask(length, length - 2 * TARGET_TOKENS, length - TARGET_TOKENS)
  engine.forget()
  first = _timed(lambda: engine.salience([texts[0]], [end]))
  first_span = _timed(lambda: engine.salience([texts[0]], [earlier]))
  engine.forward_hidden(texts[0])
  calls, spans, forwards = [], [], []
  with compilation.CompileCounter() as counter:
    for i, text in enumerate(texts[1:]):
      calls.append(_timed(lambda: engine.salience([text], [end])))
      mask = earlier if i % 2 == 0 else _mask(length, length // 2,
                                              length // 2 + TARGET_TOKENS)
      spans.append(_timed(lambda: engine.salience([text], [mask])))
  for text in texts[1:]:
    forwards.append(_timed(lambda: engine.forward_hidden(text)))
  return {
      "tokens": length,
      "first_call_s": round(first, 3),
      "first_span_change_s": round(first_span, 3),
      "warm_salience_s": round(statistics.median(calls), 3),
      "warm_span_change_s": round(statistics.median(spans), 3),
      "warm_forward_s": round(statistics.median(forwards), 3),
      "recompiles_in_20_calls": counter.count,
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", default="embedded")
  parser.add_argument("--precision", default="float32",
                      choices=("float32", "bfloat16"))
  parser.add_argument("--lengths", default="32,128,512")
  parser.add_argument("--repeats", type=int, default=10)
  parser.add_argument("--json", action="store_true", help="print JSON rows")
  args = parser.parse_args()

  cache = paths.jax_cache_dir()
  cold = not cache.exists() or not any(cache.iterdir())
  compilation.enable_persistent_cache()
  start = time.perf_counter()
  lm = lm_lib.GemmaLM.load(args.model, precision=args.precision)
  load_s = time.perf_counter() - start
  corpus = json.loads(_TEXT.read_text())["text"]
  corpus_ids = lm.encode(corpus * 2)
  print(f"model {args.model} ({args.precision}) loaded in {load_s:.1f} s; "
        f"{os.cpu_count()} CPUs; persistent compile cache "
        f"{'cold' if cold else 'warm'} at {cache}")
  rows = [bench_length(lm, corpus_ids, int(n), args.repeats)
          for n in args.lengths.split(",")]
  if args.json:
    for row in rows:
      print(json.dumps(row))
    return
  header = list(rows[0])
  print(" | ".join(header))
  for row in rows:
    print(" | ".join(str(row[k]) for k in header))


if __name__ == "__main__":
  main()
