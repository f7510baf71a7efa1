"""The long-text path: past a length, keep no attention score matrices.

`checkpoint_dots` keeps every dot product of every block for the backward
pass, the [heads, T, T] attention scores included: quadratic in length
(about 19 GiB at 8k tokens for the 270M). Past `threshold` tokens the blocks
keep only dots without batch dimensions (the Q/K/V, output and MLP
projections, linear in length) and recompute the scores one block at a time
in the backward pass; the engine then keeps no forward pass for span
changes either. Short texts keep today's faster path.
"""

from __future__ import annotations

import jax

# Sequence buckets of at least this many tokens take the long-text path.
threshold = 2048

# Most target positions projected onto the vocabulary at once (engine.py).
TARGET_CHUNK = 512

_SHORT = jax.checkpoint_policies.checkpoint_dots
_LONG = jax.checkpoint_policies.checkpoint_dots_with_no_batch_dims


def is_long(length: int) -> bool:
  """Whether a padded sequence of `length` tokens takes the long path."""
  return length >= threshold


def policy(length: int):
  """The remat policy for a padded sequence of `length` tokens."""
  return _LONG if is_long(length) else _SHORT


def checkpoint_by_length(fn, static_argnums, length_of):
  """`fn` under jax.checkpoint with the policy its sequence length picks.

  `length_of(*args)` reads the (static) sequence length at trace time.
  """
  wrapped = {p: jax.checkpoint(fn, static_argnums=static_argnums, policy=p)
             for p in (_SHORT, _LONG)}

  def call(*args):
    return wrapped[policy(length_of(*args))](*args)

  return call
