"""The long-text path: past a length, keep no attention score matrices.

`checkpoint_dots` keeps every dot product of every block for the backward
pass, the [heads, T, T] attention scores included: quadratic in length
(about 19 GiB at 8k tokens for the 270M). Past `threshold` tokens each
decoder block keeps only its input ([T, d], linear in length) and is
recomputed in the backward pass one block at a time, so the transient peak
holds one block's scores; the engine then keeps no forward pass for span
changes either. Short texts keep today's faster path. Gemma 3n's forward is
one whole-stack call, which only gets the no-scores policy
(`checkpoint_dots_with_no_batch_dims`): on XLA's CPU backend that does not
bound its peak (see `_recomputed_in_order`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from lit_gemma.salience import attention_seam

# Sequence buckets of at least this many tokens take the long-text path.
threshold = 2048

# Most target positions projected onto the vocabulary at once (engine.py).
TARGET_CHUNK = 512

_SHORT = jax.checkpoint_policies.checkpoint_dots
_LONG = jax.checkpoint_policies.checkpoint_dots_with_no_batch_dims


def is_long(length: int) -> bool:
  """Whether a padded sequence of `length` tokens takes the long path."""
  return length >= threshold


def checkpoint_by_length(fn, static_argnums, length_of, carry_argnum=None,
                         wrap=lambda f: f, padding_argnum=None):
  """`fn` under jax.checkpoint with the policy its sequence length picks.

  `length_of(*args)` reads the (static) sequence length at trace time. On
  the long path a function with a `carry_argnum` (one decoder block: the
  hidden states it takes) keeps only its inputs and is recomputed in the
  backward pass once the cotangent reaches it (`_recomputed_in_order`), so
  the transient peak holds one block's working set; a whole-stack function
  keeps the no-scores policy. With a `padding_argnum` (the [B, T] padding
  mask), lengths from `attention_seam.BLOCKED_FROM` on compute attention
  blockwise (blocked_attention.py). `wrap` (e.g. a jit) is applied to each
  variant apart, so that a cached trace never outlives a change of
  `threshold` or `BLOCKED_FROM`.
  """
  variants = {}

  def variant(long: bool, blockwise: bool):
    if (long, blockwise) not in variants:
      body = _blockwise(fn, padding_argnum) if blockwise else fn
      if not long:
        step = jax.checkpoint(body, static_argnums=static_argnums,
                              policy=_SHORT)
      elif carry_argnum is None:
        step = jax.checkpoint(body, static_argnums=static_argnums,
                              policy=_LONG)
      else:
        step = _recomputed_in_order(body, static_argnums, carry_argnum)
      variants[long, blockwise] = wrap(step)
    return variants[long, blockwise]

  def call(*args):
    length = length_of(*args)
    blockwise = (padding_argnum is not None and
                 attention_seam.is_blockwise(length))
    return variant(is_long(length), blockwise)(*args)

  return call


def _blockwise(fn, padding_argnum):
  """`fn` with its attention layers computing blockwise (attention_seam)."""

  def run(*args):
    with attention_seam.blocked(args[padding_argnum]):
      return fn(*args)

  return run


def _recomputed_in_order(fn, static_argnums, carry_argnum):
  """`fn` keeping only its inputs, recomputed after its cotangent arrives.

  A remat policy is not enough on XLA's CPU backend: it expands JAX's
  optimization barriers early, then merges each block's recomputation with
  the forward pass (common subexpressions), which keeps every layer's
  [heads, T, T] scores alive: a 43.6 GiB buffer at 8k tokens for the 270M,
  whatever the policy. Here block i recomputes from its input plus a zero
  XLA cannot fold, taken from block i+1's cotangent: the recomputation can
  neither be merged with the forward pass nor scheduled before the
  backward pass reaches it.
  """
  static = tuple(sorted(static_argnums))

  def merged(static_args, dynamic_args):
    s, d = iter(static_args), iter(dynamic_args)
    return [next(s) if i in static else next(d)
            for i in range(len(static_args) + len(dynamic_args))]

  carry = carry_argnum - sum(1 for i in static if i < carry_argnum)

  @functools.partial(jax.custom_vjp, nondiff_argnums=static)
  def run(*args):
    return fn(*args)

  def run_fwd(*args):
    dynamic = tuple(a for i, a in enumerate(args) if i not in static)
    return fn(*args), dynamic

  def run_bwd(*args):
    static_args, (dynamic, cotangent) = args[:len(static)], args[len(static):]
    dynamic = list(dynamic)
    dynamic[carry] = dynamic[carry] + _unfoldable_zero(cotangent).astype(
        dynamic[carry].dtype)
    _, vjp = jax.vjp(lambda *d: fn(*merged(static_args, d)), *dynamic)
    return vjp(cotangent)

  run.defvjp(run_fwd, run_bwd)
  return run


def _unfoldable_zero(tree) -> jax.Array:
  """0.0, computed from one element of `tree` (finite or not), in a way
  XLA's simplifier does not fold to a constant."""
  first = jax.tree_util.tree_leaves(tree)[0].reshape(-1)[0].astype("float32")
  return jnp.where(jnp.isfinite(first), first, 0.0) * 0.0
