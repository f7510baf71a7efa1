"""One traced program per kind of decoder block, not one per block.

Tracing keras layers in Python is most of a new shape bucket's first call:
the 270M's 18 blocks were traced one by one, inside every transformation of
the salience step. Blocks with the same configuration and variable shapes
compute the same function of their weights, so each block runs as the first
block of its kind with its own weights passed in (`stateless_call` swaps
them in by position), under one `jax.jit` whose trace JAX caches per block
kind and input shape. The outer trace then holds a call per block and one
body per kind (two for Gemma 3: sliding-window and global layers); XLA
inlines the calls, so the compiled program computes what it did before.
Weights stay where they are (nothing is stacked or copied).
"""

from __future__ import annotations

import json

import jax


def kind_key(block) -> str:
  """What makes two blocks the same function of their weights: the class,
  the configuration without the name, and the variables' shapes in order."""
  config = dict(block.get_config())
  config.pop("name", None)
  variables = [(tuple(v.shape), str(v.dtype)) for v in block.variables]
  return json.dumps([type(block).__qualname__, config, variables],
                    sort_keys=True, default=str)


def representatives(blocks) -> list:
  """For each block, the first block of its kind (itself if it is first)."""
  first: dict[str, object] = {}
  return [first.setdefault(kind_key(block), block) for block in blocks]


def jit_per_kind(step):
  """`step(block, ...)` jit-compiled with the block static: called with a
  representative, its trace is shared by every block of that kind."""
  return jax.jit(step, static_argnums=0)
