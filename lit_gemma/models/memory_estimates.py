"""How much memory salience needs per Gemma size, by architecture arithmetic.

A user picking hardware, or a `--distribution`, wants the figures before
downloading 60 GB. Weights follow from each preset's config: the `Size`
rows live in each family's record (models/families/); the Gemma 2 and
Gemma 3 figures reproduce keras-hub's own preset parameter counts
(`benchmarks/memory_table.py` prints both). Activations are what the
engine keeps for the backward pass of one text of T tokens under its
`checkpoint_dots` remat policy: every matrix product's output per layer
(linear in T) plus each layer's attention scores (H * T^2); past the
long-text threshold only each block's input (T * d per layer), the block
being recomputed in the backward pass. Embedding gradients are T rows per
token table.
Nothing here imports JAX or Keras.
"""

from __future__ import annotations

import dataclasses

GIB = 1 << 30
BYTES = {"float32": 4, "bfloat16": 2}
MESH_SIZES = (1, 2, 4, 8, 16)
# Part of a device's memory usable by weights and one text's salience
# (the rest: XLA's workspace, the logits at the targets, fragmentation).
USABLE = 0.85


@dataclasses.dataclass(frozen=True)
class Size:
  """One text model's shape (keras-hub backbone config names).

  `params` overrides the arithmetic where the config is not known here
  (Gemma 4: keras-hub's preset metadata, encoders included).
  """

  name: str
  vocabulary_size: int
  hidden_dim: int
  num_layers: int
  num_query_heads: int
  num_key_value_heads: int
  head_dim: int
  intermediate_dim: int
  qk_norm: bool = True  # Gemma 3/4 normalize q and k per head
  per_layer_dim: int = 0  # per-layer token table width per layer (E models)
  params: int | None = None
  exact: bool = True  # False: the shape is an estimate (see `note`)
  note: str = ""

  def parameter_count(self) -> int:
    if self.params is not None:
      return self.params
    d, h = self.hidden_dim, self.head_dim
    attention = d * h * (2 * self.num_query_heads +
                         2 * self.num_key_value_heads)
    ffw = 3 * d * self.intermediate_dim
    norms = 4 * d + (2 * h if self.qk_norm else 0)
    table = self.vocabulary_size * d
    return table + self.num_layers * (attention + ffw + norms) + d


def weight_bytes(size: Size, precision: str) -> int:
  return size.parameter_count() * BYTES[precision]


def activation_bytes(size: Size, tokens: int, precision: str,
                     scores: bool = True) -> int:
  """Kept for one text's backward pass: under `checkpoint_dots` every
  matrix product's output per layer (q, k, v, attention output, o, gate,
  up, down) and every layer's attention score matrices; without `scores`
  (the long-text path, salience/long_text.py) only each block's inputs:
  its hidden states and, for E models, its per-layer input (and the
  final norm's input and output)."""
  if not scores:
    width = size.hidden_dim + size.per_layer_dim
    return (size.num_layers + 2) * tokens * width * BYTES[precision]
  h = size.head_dim
  per_token = (2 * size.num_query_heads * h + 2 * size.num_key_value_heads
               * h + 2 * size.hidden_dim + 2 * size.intermediate_dim)
  linear = size.num_layers * tokens * per_token
  quadratic = size.num_layers * size.num_query_heads * tokens * tokens
  return (linear + quadratic) * BYTES[precision]


def embedding_gradient_bytes(size: Size, tokens: int) -> int:
  """dL/dE in float32 (the engine's methods run in float32): T rows of the
  main table and, for E models, of the per-layer table."""
  width = size.hidden_dim + size.num_layers * size.per_layer_dim
  return tokens * width * 4


def recompute_bytes(size: Size, tokens: int) -> int:
  """The long path's transient: one layer's scores, probabilities and
  their gradient, recomputed in the backward pass (float32)."""
  return 3 * size.num_query_heads * tokens * tokens * 4


def per_device_bytes(size: Size, tokens: int, precision: str, devices: int,
                     scores: bool = True) -> float:
  """Weights and activations (and, on the long path, one layer's
  recomputed scores) split over the mesh; gradients replicated."""
  transient = 0 if scores else recompute_bytes(size, tokens)
  return ((weight_bytes(size, precision) + transient +
           activation_bytes(size, tokens, precision, scores)) / devices +
          embedding_gradient_bytes(size, tokens))


def needed_distribution(size: Size, tokens: int, precision: str,
                        device_gib: float, scores: bool = True) -> str:
  """The smallest `--distribution` that fits, or "-" if 16 devices do not."""
  for n in MESH_SIZES:
    if per_device_bytes(size, tokens, precision, n, scores) <= (
        USABLE * device_gib * GIB):
      return "none" if n == 1 else f"model_parallel:{n}"
  return "-"
