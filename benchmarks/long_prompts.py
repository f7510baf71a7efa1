"""Long-prompt salience: time, peak RSS and per-text state at 1k-16k tokens.

  python benchmarks/long_prompts.py [--lengths 1024,4096,8192,16384]
      [--targets 8,512] [--repeats 3] [--model embedded]
      [--precision float32]

Each (length, target) case runs in its own subprocess, so "peak RSS" is
that case's own high-water mark (the child's ru_maxrss: weights, compiled
programs and one call's transient peak together). A case is 1 + repeats
salience calls on different texts of `length` total tokens whose last
`target` tokens are the target: "first" includes compiling, "warm" is the
median of the other `repeats` (their range in "warm_range"; "warm_cpu_s"
the median CPU seconds of all threads, which the machine's other load
inflates less than the wall clock). Past
`attention_seam.BLOCKED_FROM` tokens attention runs blockwise
(salience/blocked_attention.py); `--keras_attention` keeps keras-hub's
attention at every length (the figures before blocked attention). "residuals" is what the backward pass holds per text (the VJP's
activations, read from the engine's recorded layout): the engine keeps it
for a span change on texts below the long-text threshold (its kept_bytes,
"kept") and drops it after the call above it. On the long path (each
block's input kept, the block recomputed) it grows linearly with length;
under the short path's `checkpoint_dots` it also holds every layer's
attention scores.

  python benchmarks/long_prompts.py --trace 1024,2048,4096,8192,16384,32768

prints those residuals per text by tracing alone (jax.eval_shape: nothing
is computed, so 32k tokens take seconds), beside models/memory_budget.py's
estimate of one call's peak.
"""

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_TEXT = ROOT / "tests/data/gemma3_270m_long_text.json"
MIB = 1 << 20


def _case(model: str, precision: str, length: int, target: int,
          repeats: int, keras_attention: bool) -> dict:
  """One case, in this (child) process; returns its row."""
  import statistics  # noqa: PLC0415

  import numpy as np  # noqa: PLC0415

  from lit_gemma.models import lm as lm_lib  # noqa: PLC0415
  from lit_gemma.salience import attention_seam  # noqa: PLC0415
  from lit_gemma.salience import compilation  # noqa: PLC0415
  from lit_gemma.salience import long_text  # noqa: PLC0415

  if keras_attention:
    attention_seam.BLOCKED_FROM = 1 << 40

  compilation.enable_persistent_cache()
  lm = lm_lib.GemmaLM.load(model, precision=precision)
  engine = lm.engine
  base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  corpus = json.loads(_TEXT.read_text())["text"]
  ids = lm.encode(corpus)
  while len(ids) < length + repeats + 1:
    ids = ids + ids[1:]
  texts = [ids[:1] + ids[1 + s: length + s] for s in range(repeats + 1)]
  mask = np.zeros(length, np.float32)
  mask[length - target:] = 1
  times, cpu = [], []
  for text in texts:
    start, start_cpu = time.perf_counter(), time.process_time()
    (scores,) = engine.salience([text], [mask])
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
    assert all(np.isfinite(v).all() for v in scores.values())
  padded = max(engine._layouts)  # noqa: SLF001 (the one bucket used)
  layout = engine._layouts[padded]  # noqa: SLF001
  residuals = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize
                  for shape, dtype in layout.activation_avals)
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  return {
      "tokens": length, "target": target, "padded": padded,
      "path": "long" if long_text.is_long(padded) else "short",
      "attention": ("keras" if not attention_seam.is_blockwise(padded)
                    else "blocked"),
      "first_s": round(times[0], 1),
      "warm_s": round(statistics.median(times[1:]), 1),
      "warm_range": f"{min(times[1:]):.1f}-{max(times[1:]):.1f}",
      "warm_cpu_s": round(statistics.median(cpu[1:]), 1),
      "residuals_mib": round(residuals / MIB),
      "residuals_per_token_kib": round(residuals / length / 1024, 1),
      "kept_mib": round(engine.kept_bytes / MIB),
      "kept_texts": engine.kept_texts,
      "loaded_rss_mib": round(base_rss / MIB),
      "peak_rss_mib": round(peak / MIB),
      "load_avg": round(os.getloadavg()[0], 1),
  }


def _trace(model: str, precision: str, lengths: list[int]) -> None:
  """Residuals per text at each length, by tracing the salience step."""
  import jax  # noqa: PLC0415
  import numpy as np  # noqa: PLC0415

  from lit_gemma.models import lm as lm_lib  # noqa: PLC0415
  from lit_gemma.models import memory_budget  # noqa: PLC0415
  from lit_gemma.salience import long_text  # noqa: PLC0415

  engine = lm_lib.GemmaLM.load(model, precision=precision).engine
  size = memory_budget.size_of(model)
  print(f"tokens | path | residuals_mib | per_token_kib | "
        f"planned_call_peak_mib ({size.name})")
  for length in lengths:
    ids = np.full((1, length), 3, np.int32)
    targets = (np.ones((1, 1, 8), np.int32), np.ones((1, 1, 8), np.float32))
    jax.eval_shape(jax.jit(engine._batch_salience),  # noqa: SLF001
                   engine.forward.params(), ids, np.ones_like(ids), *targets)
    layout = engine._layouts.pop(length)  # noqa: SLF001
    kept = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize
               for shape, dtype in layout.activation_avals)
    path = "long" if long_text.is_long(length) else "short"
    planned = memory_budget.call_bytes(size, length, precision)
    print(f"{length} | {path} | {kept / MIB:.0f} | "
          f"{kept / length / 1024:.0f} | {planned / MIB:.0f}", flush=True)


def _run_child(args, length: int, target: int) -> dict:
  command = [sys.executable, __file__, "--child", f"{length},{target}",
             "--model", args.model, "--precision", args.precision,
             "--repeats", str(args.repeats)]
  if args.keras_attention:
    command.append("--keras_attention")
  start = time.perf_counter()
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  wall = time.perf_counter() - start
  if done.returncode != 0:
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"tokens": length, "target": target,
            "error": f"exit {done.returncode}: {' / '.join(tail)}"}
  row = json.loads(done.stdout.strip().splitlines()[-1])
  row["process_s"] = round(wall, 1)
  return row


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", default="embedded")
  parser.add_argument("--precision", default="float32",
                      choices=("float32", "bfloat16"))
  parser.add_argument("--lengths", default="1024,4096,8192,16384",
                      help="total tokens (prompt + target) per case")
  parser.add_argument("--targets", default="8,512",
                      help="target tokens per case")
  parser.add_argument("--repeats", type=int, default=3,
                      help="warm calls per case (their median is reported)")
  parser.add_argument("--keras_attention", action="store_true",
                      help="keras-hub's attention at every length")
  parser.add_argument("--json", action="store_true", help="print JSON rows")
  parser.add_argument("--trace", help="lengths to trace (no salience run)")
  parser.add_argument("--child", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.trace:
    _trace(args.model, args.precision,
           [int(n) for n in args.trace.split(",")])
    return
  if args.child:
    length, target = (int(v) for v in args.child.split(","))
    print(json.dumps(_case(args.model, args.precision, length, target,
                           args.repeats, args.keras_attention)))
    return

  print(f"model {args.model} ({args.precision}); {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}; one subprocess per case; "
        f"warm: median of {args.repeats}"
        + ("; keras-hub's attention" if args.keras_attention else ""),
        flush=True)
  rows = []
  for length in (int(n) for n in args.lengths.split(",")):
    for target in (int(n) for n in args.targets.split(",")):
      row = _run_child(args, length, target)
      rows.append(row)
      print(json.dumps(row) if args.json else
            f"  done {length} tokens, {target}-token target", flush=True)
  if args.json:
    return
  header = []
  for row in rows:
    header += [k for k in row if k not in header]
  print(" | ".join(header))
  for row in rows:
    print(" | ".join(str(row.get(k, "")) for k in header))


if __name__ == "__main__":
  main()
