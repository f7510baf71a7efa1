"""Memory salience needs per Gemma size, and the `--distribution` to use.

  python benchmarks/memory_table.py [--measure]

Prints, from architecture arithmetic (lit_gemma/models/memory_estimates.py)
on each family's sizes (lit_gemma/models/families/):
weights, kept activations and embedding gradients for one text of 1k, 8k
and 32k tokens, in float32 and bfloat16; then the smallest
`--distribution` that fits on a 16/24/40/80 GiB device at 8k tokens, under
the short path's policy (every layer's attention scores kept) and the long
path's (salience/long_text.py: each block's input kept, one layer's scores
recomputed at a time), which texts of 2,048 tokens or more take. With
`--measure`, also loads the embedded 270M and prints its weights' bytes.
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from lit_gemma.models import families  # noqa: E402
from lit_gemma.models import memory_estimates as m  # noqa: E402
from lit_gemma.models.families import gemma3, gemma4  # noqa: E402

TOKENS = (1024, 8192, 32768)
DEVICES = (16, 24, 40, 80)
SHORT = {"float32": "f32", "bfloat16": "bf16"}


def _gib(n: float) -> str:
  return f"{n / m.GIB:8.2f}"


def weights_table() -> None:
  print("Weights (GiB) and parameter counts")
  print(f"{'model':18s} {'params':>15s} {'keras-hub':>15s} "
        f"{'float32':>8s} {'bfloat16':>8s}")
  for size in families.sizes():
    hub = gemma3.KERAS_HUB_PARAMS.get(size.name)
    print(f"{size.name:18s} {size.parameter_count():15,d} "
          f"{(f'{hub:,d}' if hub else '-'):>15s} "
          f"{_gib(m.weight_bytes(size, 'float32'))} "
          f"{_gib(m.weight_bytes(size, 'bfloat16'))}"
          f"{'  *' if not size.exact else ''}")
  print("  * " + gemma4.SIZES[0].note)


def activations_table() -> None:
  print("\nOne text's salience (GiB): kept activations with attention "
        "scores (short path) / long path, embedding gradients (float32)")
  header = " ".join(f"{f'{t // 1024}k {SHORT[p]}':>17s}" for t in TOKENS
                    for p in ("float32", "bfloat16"))
  print(f"{'model':18s} {header} {'grads 1k/8k/32k':>24s}")
  for size in families.sizes():
    cells = []
    for tokens in TOKENS:
      for precision in ("float32", "bfloat16"):
        full = m.activation_bytes(size, tokens, precision) / m.GIB
        linear = m.activation_bytes(size, tokens, precision,
                                    scores=False) / m.GIB
        cells.append(f"{full:8.1f}/{linear:<8.2f}")
    grads = "/".join(f"{m.embedding_gradient_bytes(size, t) / m.GIB:.3f}"
                     for t in TOKENS)
    print(f"{size.name:18s} {' '.join(cells)} {grads:>24s}")


def distribution_table(tokens: int = 8192) -> None:
  for scores, policy in ((True, "every layer's scores kept (short path)"),
                         (False, "block inputs kept, one layer recomputed "
                          "(long path)")):
    print(f"\n--distribution needed at {tokens // 1024}k tokens, {policy}; "
          f"{int(m.USABLE * 100)}% of a device usable")
    header = " ".join(f"{f'{g} GiB {SHORT[p]}':>17s}" for g in DEVICES
                      for p in ("float32", "bfloat16"))
    print(f"{'model':18s} {header}")
    for size in families.sizes():
      cells = [m.needed_distribution(size, tokens, p, g, scores)
               for g in DEVICES for p in ("float32", "bfloat16")]
      print(f"{size.name:18s} " + " ".join(f"{c:>17s}" for c in cells))


def measure_embedded() -> None:
  from lit_gemma.models import sources  # pylint: disable=g-import-not-at-top

  causal_lm, _ = sources.load_causal_lm(sources.EMBEDDED)
  total = sum(v.value.nbytes for v in causal_lm.backbone.weights)
  print(f"\nembedded 270M measured: {total:,d} bytes of weights; table: "
        f"{m.weight_bytes(gemma3.SIZES[0], 'float32'):,d}")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--measure", action="store_true")
  args = parser.parse_args()
  weights_table()
  activations_table()
  distribution_table()
  if args.measure:
    measure_embedded()


if __name__ == "__main__":
  main()
