"""Attention that computes only the blocks its mask keeps, forward and back.

keras-hub's attention builds every layer's whole [heads, T, T] score matrix
and masks it afterwards, although every layer is causal and most attend to
a window (512 tokens on the 270M). Here the sequence is cut into blocks of
`block` positions; query block n meets only the key blocks its mask can
reach (n itself and the ones before it, back to the window's edge), one
[heads, C, C] tile at a time under a running softmax (each row's maximum,
sum and weighted values). Query blocks run in a scan and key blocks in a
loop, so nothing larger than one tile of scores is ever alive, memory
grows with T times the block size, and the compiled program's size does
not grow with T.

The backward pass is written out (flash-style): the forward keeps q, k, v,
the output and each row's log-sum-exp, and the backward recomputes each
tile's probabilities from them. Relying on rematerialization instead
would not do on XLA's CPU backend, which merges recomputation back into the
forward pass (see long_text.py).

Semantics are keras-hub's: scores q.k (q already scaled by the caller), an
optional tanh soft-cap `cap * tanh(s / cap)`, key j visible to query i when
j <= i, i - j < window and key j is not padding; a row that sees no key
gives zeros (keras-hub wipes it too). Grouped heads share K/V: q is
[B, T, K, G, h] for K key/value heads of G query heads each.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

# Positions per block: 256 wastes a third of a 512-token window's work on
# the masked halves of its edge blocks and keeps each product large enough
# to run near the CPU's peak (benchmarks/attention.py).
BLOCK = 256


def attend(q, k, v, valid, *, window: int | None = None,
           soft_cap: float | None = None, block: int | None = None
           ) -> jax.Array:
  """Masked softmax attention [B, T, K, G, h] of q [B, T, K, G, h] over
  k, v [B, T, K, h]; `valid` [B, T] marks keys that are not padding.

  `window` None (or not shorter than T) means global causal attention;
  `block` defaults to BLOCK.
  Computed in float32 (float64 for float64 inputs); returned in q's dtype.
  """
  length = q.shape[1]
  if window is not None and window >= length:
    window = None
  block = min(block or BLOCK, length)
  valid = jnp.asarray(valid).astype(q.dtype)
  return _attend(window, soft_cap, block, q, k, v, valid)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _attend(window, soft_cap, block, q, k, v, valid):
  return _forward(window, soft_cap, block, q, k, v, valid)[0]


def _attend_fwd(window, soft_cap, block, q, k, v, valid):
  out, lse = _forward(window, soft_cap, block, q, k, v, valid)
  return out, (q, k, v, valid, out, lse)


def _attend_bwd(window, soft_cap, block, residuals, d_out):
  q, k, v, valid, out, lse = residuals
  dq, dk, dv = jax.vmap(
      functools.partial(_backward_one, window, soft_cap, block))(
          q, k, v, valid, out, lse, d_out)
  return (dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype),
          jnp.zeros_like(valid))


_attend.defvjp(_attend_fwd, _attend_bwd)


def _forward(window, soft_cap, block, q, k, v, valid):
  out, lse = jax.vmap(functools.partial(_forward_one, window, soft_cap,
                                        block))(q, k, v, valid)
  return out.astype(q.dtype), lse


class _Blocks:
  """One sequence cut into N blocks of C positions, in the layouts the
  products want: queries [N, K, G*C, h] (g major), keys [N, K, C, h]."""

  def __init__(self, block: int, q, k, v, valid):
    self.length, self.heads, self.groups, self.width = q.shape
    self.block = block
    pad = -self.length % block
    self.count = (self.length + pad) // block
    self.dtype = jnp.promote_types(q.dtype, jnp.float32)
    padded = lambda a: jnp.pad(a.astype(self.dtype),
                               [(0, pad)] + [(0, 0)] * (a.ndim - 1))
    self.q = self.queries(padded(q))
    self.k, self.v = self.keys(padded(k)), self.keys(padded(v))
    self.valid = padded(valid).reshape(self.count, block) > 0

  def queries(self, a):
    """[T', K, G, h] -> [N, K, G*C, h]."""
    n, c, kh, g, h = self.count, self.block, self.heads, self.groups, self.width
    a = a.reshape(n, c, kh, g, h).transpose(0, 2, 3, 1, 4)
    return a.reshape(n, kh, g * c, h)

  def unqueries(self, a):
    """[N, K, G*C, h] -> [T, K, G, h]."""
    n, c, kh, g, h = self.count, self.block, self.heads, self.groups, self.width
    a = a.reshape(n, kh, g, c, h).transpose(0, 3, 1, 2, 4)
    return a.reshape(n * c, kh, g, h)[: self.length]

  def keys(self, a):
    """[T', K, h] -> [N, K, C, h]."""
    return a.reshape(self.count, self.block, self.heads, self.width
                     ).transpose(0, 2, 1, 3)

  def unkeys(self, a):
    """[N, K, C, h] -> [T, K, h]."""
    return a.transpose(0, 2, 1, 3).reshape(
        self.count * self.block, self.heads, self.width)[: self.length]

  def keep(self, n, m, window):
    """Which scores of query block n against key block m count: [G*C, C]."""
    rows = jnp.tile(jnp.arange(self.block), self.groups)[:, None]
    distance = (n - m) * self.block + rows - jnp.arange(self.block)[None]
    kept = (distance >= 0) & self.valid[m][None, :]
    if window is not None:
      kept &= distance < window
    return kept

  def first_key_block(self, n, window):
    """The first key block query block n can see."""
    if window is None:
      return 0
    reach = -(-(window - 1) // self.block)  # whole blocks before block n
    return jnp.maximum(0, n - reach)

  def scores(self, n, m, soft_cap):
    """Query block n's scores [K, G*C, C] against key block m (capped),
    and the cap's tanh."""
    s = jnp.einsum("kqh,ksh->kqs", self.q[n], self.k[m])
    if soft_cap is None:
      return s, None
    t = jnp.tanh(s / soft_cap)
    return t * soft_cap, t


def _forward_one(window, soft_cap, block, q, k, v, valid):
  """One sequence: output [T, K, G, h] and each row's log-sum-exp
  [N, K, G*C]. Query blocks run one after another; within one, key blocks
  run one by one under a running softmax (row maximum, sum, weighted
  values), so one [K, G*C, C] tile of scores is alive at a time."""
  b = _Blocks(block, q, k, v, valid)
  rows = b.q.shape[1:3]

  def query_block(n):
    def tile(m, carry):
      top, total, acc = carry
      s, _ = b.scores(n, m, soft_cap)
      s = jnp.where(b.keep(n, m, window)[None], s, -jnp.inf)
      new = jnp.maximum(top, jnp.max(s, axis=-1))
      safe = jnp.where(jnp.isfinite(new), new, 0.0)
      p = jnp.exp(s - safe[..., None])
      fade = jnp.exp(top - safe)
      return (new, total * fade + jnp.sum(p, axis=-1),
              acc * fade[..., None] + jnp.einsum("kqs,ksh->kqh", p, b.v[m]))

    start = (jnp.full(rows, -jnp.inf, b.dtype), jnp.zeros(rows, b.dtype),
             jnp.zeros(b.q.shape[1:], b.dtype))
    top, total, acc = jax.lax.fori_loop(b.first_key_block(n, window), n + 1,
                                        tile, start)
    seen = total > 0
    out = acc / jnp.where(seen, total, 1.0)[..., None]
    lse = jnp.where(seen, top, 0.0) + jnp.log(jnp.where(seen, total, 1.0))
    return out, lse

  out, lse = jax.lax.map(query_block, jnp.arange(b.count))
  return b.unqueries(out), lse


def _backward_one(window, soft_cap, block, q, k, v, valid, out, lse, d_out):
  """One sequence's dq, dk, dv, recomputing each tile's probabilities from
  the forward's log-sum-exp: query blocks in turn, each over its key
  blocks, dk and dv accumulated in place."""
  b = _Blocks(block, q, k, v, valid)
  pad = [(0, -b.length % block), (0, 0), (0, 0), (0, 0)]
  d_out = b.queries(jnp.pad(d_out.astype(b.dtype), pad))
  out = b.queries(jnp.pad(out.astype(b.dtype), pad))
  dot = jnp.sum(d_out * out, axis=-1)  # [N, K, G*C]

  def query_block(carry, n):
    def tile(m, inner):
      dq, dk, dv = inner
      s, t = b.scores(n, m, soft_cap)
      kept = b.keep(n, m, window)[None]
      p = jnp.where(kept, jnp.exp(s - lse[n][..., None]), 0.0)
      dv = _add_at(dv, m, jnp.einsum("kqs,kqh->ksh", p, d_out[n]))
      dp = jnp.einsum("kqh,ksh->kqs", d_out[n], b.v[m])
      ds = p * (dp - dot[n][..., None])
      if t is not None:
        ds = ds * (1.0 - t * t)
      dk = _add_at(dk, m, jnp.einsum("kqs,kqh->ksh", ds, b.q[n]))
      return dq + jnp.einsum("kqs,ksh->kqh", ds, b.k[m]), dk, dv

    dq, dk, dv = jax.lax.fori_loop(
        b.first_key_block(n, window), n + 1, tile,
        (jnp.zeros(b.q.shape[1:], b.dtype),) + carry)
    return (dk, dv), dq

  zeros = jnp.zeros(b.k.shape, b.dtype)
  (dk, dv), dq = jax.lax.scan(query_block, (zeros, zeros),
                              jnp.arange(b.count))
  return b.unqueries(dq), b.unkeys(dk), b.unkeys(dv)


def _add_at(a, i, update):
  """a with `update` added to its row i (in place under XLA)."""
  return jax.lax.dynamic_update_index_in_dim(a, a[i] + update, i, 0)
