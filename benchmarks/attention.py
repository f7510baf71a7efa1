"""Blocked attention against keras-hub's, at the embedded 270M's shapes.

  python benchmarks/attention.py [--lengths 1024,2048,4096,8192]
      [--blocks 128,256,512] [--repeats 3] [--dense_max 8192]
  python benchmarks/attention.py --model [--lengths 1024,4096,8192,16384]

The first form times the part blocked attention replaces: scores, softmax
and weighted sum, forward and backward (the gradient with respect to q, k
and v), for one layer of the 270M's shape (4 query heads sharing 1 K/V
head of 256, float32), sliding (window 512) and global. "keras" is
keras-hub's own `CachedGemma3Attention._compute_attention` on the [T, T]
causal mask its decoder block builds; "blocked C" is
salience/blocked_attention.py with blocks of C positions. Each row: the
median of `--repeats` warm calls (wall clock, and CPU time of all
threads, which other load inflates less) and XLA's compiled working memory.

`--model` times whole salience calls (an 8-token target at the end) on a
random-weight Gemma 3 with the 270M's configuration (nothing downloaded:
this runs on any machine, an accelerator's included), with attention
computed by keras-hub ("keras") and blockwise ("blocked"). Both use the
long-text path's per-block recomputation from `long_text.threshold` on.
Every figure depends on the machine's load: the header prints it.
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import lit_gemma  # noqa: E402,F401  (selects the JAX backend)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
from keras_hub.src.models.gemma3 import gemma3_attention  # noqa: E402

from lit_gemma.salience import attention_seam  # noqa: E402
from lit_gemma.salience import blocked_attention  # noqa: E402
from lit_gemma.salience import engine as engine_lib  # noqa: E402

MIB = 1 << 20
# The embedded model's shape (google/gemma-3-270m).
SHAPE_270M = dict(
    vocabulary_size=262144, image_size=896, num_layers=18, num_query_heads=4,
    num_key_value_heads=1, hidden_dim=640, intermediate_dim=2048,
    head_dim=256, query_head_dim_normalize=True, use_query_key_norm=True,
    use_post_ffw_norm=True, use_post_attention_norm=True,
    use_sliding_window_attention=True, sliding_window_size=512,
    vision_encoder=None)


def _timed(compiled, args, repeats: int) -> tuple[float, float]:
  """Median wall and CPU seconds (all threads) of warm calls."""
  jax.block_until_ready(compiled(*args))
  times, cpu = [], []
  for _ in range(repeats):
    start, start_cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
  return statistics.median(times), statistics.median(cpu)


def _layer(window: bool):
  shape = SHAPE_270M
  layer = gemma3_attention.CachedGemma3Attention(
      head_dim=shape["head_dim"], num_query_heads=shape["num_query_heads"],
      num_key_value_heads=shape["num_key_value_heads"],
      use_sliding_window_attention=window,
      sliding_window_size=shape["sliding_window_size"],
      use_query_key_norm=True)
  layer.build((1, None, shape["hidden_dim"]))
  return layer


def _attention_row(length: int, window: bool, block: int | None,
                   repeats: int) -> dict:
  """One layer's scores-to-output, forward and backward."""
  layer = _layer(window)
  heads, kv_heads = layer.num_query_heads, layer.num_key_value_heads
  rng = np.random.default_rng(0)
  q = jnp.asarray(rng.normal(size=(1, length, heads, 256)), jnp.float32)
  k = jnp.asarray(rng.normal(size=(1, length, kv_heads, 256)), jnp.float32)
  v = jnp.asarray(rng.normal(size=(1, length, kv_heads, 256)), jnp.float32)
  padding = jnp.ones((1, length), jnp.int32)
  if block is None:
    def attend(q, k, v):
      causal = jnp.tril(jnp.ones((length, length), bool))[None]
      return layer._compute_attention(q, k, v, causal)  # noqa: SLF001
  else:
    def attend(q, k, v):
      scale = jnp.asarray(1 / np.sqrt(256), q.dtype)
      return blocked_attention.attend(
          (q * scale).reshape(1, length, kv_heads, heads // kv_heads, 256),
          k, v, padding, window=512 if window else None, block=block)
  step = jax.jit(jax.grad(lambda *a: jnp.sum(attend(*a) ** 2), (0, 1, 2)))
  compiled = step.lower(q, k, v).compile()
  seconds, cpu = _timed(compiled, (q, k, v), repeats)
  return {"seconds": seconds, "cpu": cpu,
          "temp_mib": compiled.memory_analysis().temp_size_in_bytes / MIB}


def layer_table(args) -> None:
  lengths = [int(n) for n in args.lengths.split(",")]
  blocks = [int(n) for n in args.blocks.split(",")]
  print("tokens | layer | attention | fwd+bwd ms | CPU ms | "
        "compiled temp MiB")
  for length in lengths:
    for window in (True, False):
      kinds = ([None] if length <= args.dense_max else []) + blocks
      for block in kinds:
        row = _attention_row(length, window, block, args.repeats)
        name = "keras" if block is None else f"blocked {block}"
        print(f"{length} | {'window 512' if window else 'global'} | {name} | "
              f"{row['seconds'] * 1000:.0f} | {row['cpu'] * 1000:.0f} | "
              f"{row['temp_mib']:.0f}",
              flush=True)


def model_table(args) -> None:
  """Whole salience calls on a random model of the 270M's shape."""
  backbone = keras_hub.models.Gemma3Backbone(**SHAPE_270M, dtype="float32")
  engine = engine_lib.SalienceEngine(backbone)
  params = engine.forward.params()
  print("tokens | attention | salience s (median) | CPU s | "
        "compiled temp MiB | compile s")
  for length in (int(n) for n in args.lengths.split(",")):
    ids = np.full((1, length), 3, np.int32)
    ids[0, 0] = 2
    positions = np.arange(length - 8, length, dtype=np.int32)[None, None]
    valid = np.ones((1, 1, 8), np.float32)
    for name, blocked_from in (("keras", 1 << 30), ("blocked", 1)):
      if name == "keras" and length > args.dense_max:
        continue
      attention_seam.BLOCKED_FROM = blocked_from
      step = jax.jit(engine._batch_salience)  # noqa: SLF001
      start = time.perf_counter()
      compiled = step.lower(params, ids, np.ones_like(ids), positions,
                            valid).compile()
      compile_s = time.perf_counter() - start
      seconds, cpu = _timed(compiled, (params, ids, np.ones_like(ids),
                                       positions, valid), args.repeats)
      temp = compiled.memory_analysis().temp_size_in_bytes / MIB
      print(f"{length} | {name} | {seconds:.1f} | {cpu:.1f} | {temp:.0f} | "
            f"{compile_s:.0f}", flush=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--lengths", default="1024,2048,4096,8192")
  parser.add_argument("--blocks", default="128,256,512")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--dense_max", type=int, default=8192,
                      help="longest length keras-hub's attention runs at")
  parser.add_argument("--model", action="store_true",
                      help="whole salience calls on a random 270M-shaped "
                      "model instead of one layer's attention")
  args = parser.parse_args()
  print(f"{jax.devices()[0].device_kind} x{jax.device_count()}; "
        f"{os.cpu_count()} CPUs; load average "
        f"{os.getloadavg()[0]:.1f}; median of {args.repeats}", flush=True)
  (model_table if args.model else layer_table)(args)
  print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
  main()
