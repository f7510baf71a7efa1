"""One memory budget per mode, from which `--max_length` and the salience
cache (`--salience_cache_mb`) follow.

A user should not have to know that a 1,000-token text keeps 850 MiB for
span changes, or that a 2,000-token target projects 2 GiB of logits, to
pick a prompt limit that fits the machine. Each mode gets a default budget
(`--memory_budget_gb` overrides it; an explicit `--max_length` or
`--salience_cache_mb` wins over the plan):

  mode      budget  why
  local     8 GiB   a laptop with 16 GiB shares it with a browser and IDE
  notebook  10 GiB  Colab's free runtime has 12.7 GiB, the kernel the rest
  team      8 GiB   deploy/cloudrun/deploy.sh's 2 vCPU, 8 GiB instance:
                    benchmarks/served_memory.py measured a 6.86 GiB peak
                    (written files included) under this plan, 8 clicks at
                    once on texts of up to 1,000 tokens

Of a budget B, `HEADROOM` (70%) is planned: the Cloud Run worker measured
10.5 GiB at peak where its parts add up to about 7.5 GiB (malloc's
fragmentation, README "Cloud Run"). Planned are, for a model size of its
family's record (models/families/; the embedded 270M in float32 in
brackets, measured by benchmarks/long_prompts.py):

  fixed   weights + RUNTIME_BYTES (Python, LIT, compiled programs) [1.0 +
          2.5 GiB; 2.7 GiB RSS measured once loaded]
  cache   CACHE_SHARE (25%) of what is left, at most 2 GiB: the kept
          forward passes of recent texts
  call    one fresh salience call at L tokens: its residuals
          (memory_estimates.activation_bytes: linear per token, plus every
          layer's scores below long_text.threshold) [842 MiB at 1,024;
          50 KiB per token on the long path, 400 MiB at 8,192], one
          layer's scores, probabilities and their gradient recomputed
          (3 x heads x L^2 float32) [3 GiB at 8,192], a full 512-target
          chunk of vocabulary logits, softmax and gradient (3 x 512 x V
          float32) [1.5 GiB], and the embedding gradients
  generation  a concurrent generation call of GENERATION_TOKENS rows x
          length (lm.py splits longer calls): its KV cache and one layer's
          prefill scores, which keras-hub computes whole [2.6 GiB at 8,192]

and `max_length` is the longest of `LENGTHS` (up to the model's context)
whose call and generation fit beside fixed and cache, never below 1,024.
For the embedded model in float32 (`python -m lit_gemma.models.memory_budget`):

  local 8 GiB     --max_length 1024, salience cache 537 MiB
  notebook 10 GiB --max_length 1024, salience cache 896 MiB
  team 8 GiB      --max_length 1024, salience cache 537 MiB
  32 GiB          --max_length 8192;  64 GiB: 16384

Past 8k the quadratic terms dominate (one layer's scores: 48 GiB at 32k).
Nothing here imports JAX.
"""

from __future__ import annotations

import dataclasses

from lit_gemma import errors
from lit_gemma.models import families
from lit_gemma.models import memory_estimates as estimates

GIB = 1 << 30
MIB = 1 << 20
# team: deploy.sh's Cloud Run instance (2 vCPU, 8 GiB).
MODES = {"local": 8.0, "notebook": 10.0, "team": 8.0}
HEADROOM = 0.7
RUNTIME_BYTES = int(2.5 * GIB)
CACHE_SHARE = 0.25
CACHE_CAP = 2 * GIB
LONG_THRESHOLD = 2048  # salience/long_text.threshold (no JAX import here)
TARGET_CHUNK = 512  # salience/long_text.TARGET_CHUNK
GENERATION_TOKENS = 16 * 1024  # lm.py: most rows x length per call
LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
FLOOR = 1024
EMBEDDED_SIZE = "gemma3_270m"  # the embedded model's row, and the default


@dataclasses.dataclass(frozen=True)
class Plan:
  """What a budget allows: the defaults for one server or notebook."""

  mode: str
  budget_gb: float
  max_length: int
  salience_cache_mb: int
  size: str


def _context(size: estimates.Size) -> int:
  return families.context_length(size.name) or FLOOR


def _embedded() -> estimates.Size:
  return next(s for s in families.sizes() if s.name == EMBEDDED_SIZE)


def size_of(source: str) -> estimates.Size:
  """The row of a model source, by name ("embedded", a keras-hub preset),
  among the families' sizes; the 270M's for a file or folder (pass
  --max_length for those)."""
  if source == "embedded":
    source = EMBEDDED_SIZE
  name = source.lower().replace("instruct_", "").replace("_en", "")
  for size in families.sizes():
    family, _, scale = size.name.split()[0].partition("_")
    if name.startswith(family) and f"_{scale}" in name:
      return size
  return _embedded()


def check_budget(value) -> float:
  """`--memory_budget_gb`, or ConfigError in one line."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or (
      not value > 0):
    raise errors.ConfigError(
        f"--memory_budget_gb={value}: must be a number of GiB > 0")
  return float(value)


def call_bytes(size: estimates.Size, tokens: int, precision: str) -> int:
  """Peak of one fresh salience call at `tokens` (padded) tokens."""
  kept = estimates.activation_bytes(size, tokens, precision,
                                    scores=tokens < LONG_THRESHOLD)
  scores = estimates.recompute_bytes(size, tokens)
  logits = 3 * min(TARGET_CHUNK, tokens) * size.vocabulary_size * 4
  return (kept + scores + logits +
          estimates.embedding_gradient_bytes(size, tokens))


def generation_bytes(size: estimates.Size, tokens: int, precision: str) -> int:
  """Peak of one generation call of GENERATION_TOKENS at `tokens` each."""
  rows = max(1, GENERATION_TOKENS // tokens)
  cache = (2 * size.num_layers * rows * tokens * size.num_key_value_heads *
           size.head_dim * estimates.BYTES[precision])
  prefill = rows * size.num_query_heads * tokens * tokens * 4
  return cache + prefill


def plan(mode: str = "local", budget_gb: float | None = None,
         sources: tuple[str, ...] = ("embedded",),
         precision: str = "float32") -> Plan:
  """The defaults a budget (default: the mode's) allows for `sources`."""
  budget = MODES[mode] if budget_gb is None else check_budget(budget_gb)
  if precision not in estimates.BYTES:  # refused later, by the config
    precision = "float32"
  sizes = [size_of(s) for s in dict.fromkeys(sources)] or [_embedded()]
  fixed = RUNTIME_BYTES + sum(estimates.weight_bytes(s, precision)
                              for s in sizes)
  spare = max(0.0, budget * GIB * HEADROOM - fixed)
  cache = int(min(CACHE_CAP, CACHE_SHARE * spare))
  largest = max(sizes, key=lambda s: s.parameter_count())
  length = FLOOR
  for n in LENGTHS:
    if n > _context(largest):
      break
    if (call_bytes(largest, n, precision) +
        generation_bytes(largest, n, precision) <= spare - cache):
      length = max(length, n)
  return Plan(mode, budget, length, cache // MIB, largest.name)


def main() -> None:
  for mode in MODES:
    p = plan(mode)
    print(f"{mode:9s} {p.budget_gb:5.1f} GiB: --max_length {p.max_length}, "
          f"salience cache {p.salience_cache_mb} MiB ({p.size})")
  for gb in (32, 64):
    p = plan(budget_gb=gb)
    print(f"{'':9s} {gb:5.1f} GiB: --max_length {p.max_length}, "
          f"salience cache {p.salience_cache_mb} MiB ({p.size})")


if __name__ == "__main__":
  main()
