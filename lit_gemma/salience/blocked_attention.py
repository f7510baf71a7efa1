"""Attention that computes only the blocks its mask keeps, forward and back.

keras-hub's attention builds every layer's whole [heads, T, T] score matrix
and masks it afterwards, although every layer is causal and most attend to
a window (512 tokens on the 270M). Here the sequence is cut into blocks of
`block` positions and query block n meets key block n - r one "diagonal"
r at a time: r = 0 (the causal block) up to the last diagonal the window
reaches (every diagonal for a global layer). Each diagonal is one batched
matrix product over all the blocks it pairs, and a running softmax (its
row maximum, sum and weighted values) carries the result from one diagonal
to the next, so nothing larger than one diagonal's [blocks, heads, C, C]
scores is ever alive: memory grows with T times the block size.

The backward pass is written out (flash-style): the forward keeps q, k, v,
the output and each row's log-sum-exp, and the backward recomputes each
diagonal's probabilities from them. Relying on rematerialization instead
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
import numpy as np

# Positions per block: 256 wastes a third of a 512-token window's work on
# the masked halves of its edge blocks and keeps each product large enough
# to run near the CPU's peak (benchmarks/attention.py).
BLOCK = 256


def attend(q, k, v, valid, *, window: int | None = None,
           soft_cap: float | None = None, block: int = BLOCK) -> jax.Array:
  """Masked softmax attention [B, T, K, G, h] of q [B, T, K, G, h] over
  k, v [B, T, K, h]; `valid` [B, T] marks keys that are not padding.

  `window` None (or not shorter than T) means global causal attention.
  Computed in float32 (float64 for float64 inputs); returned in q's dtype.
  """
  length = q.shape[1]
  if window is not None and window >= length:
    window = None
  block = min(block, length)
  valid = jnp.asarray(valid).astype(q.dtype)
  return _attend(window, soft_cap, block, q, k, v, valid)


def diagonals(blocks: int, block: int, window: int | None):
  """(r, kept [C, C] or None when all kept) for each diagonal with any key
  left: query offset c, key offset c' and i - j = r * block + c - c'."""
  offsets = np.arange(block)
  out = []
  for r in range(blocks):
    distance = r * block + offsets[:, None] - offsets[None, :]
    kept = distance >= 0
    if window is not None:
      kept &= distance < window
    if not kept.any():
      break  # Farther diagonals are farther out of the window.
    out.append((r, None if kept.all() else kept))
  return out


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

  def mask(self, r: int, kept):
    """Which scores of diagonal r count: [N-r, 1, G*C or 1, C]."""
    keys = self.valid[: self.count - r][:, None, None, :]
    if kept is None:
      return keys
    return keys & jnp.asarray(np.tile(kept, (self.groups, 1)))[None, None]

  def scores(self, r: int, soft_cap):
    """Diagonal r's scores [N-r, K, G*C, C] (capped) and the cap's tanh."""
    s = jnp.einsum("nkqh,nksh->nkqs", self.q[r:], self.k[: self.count - r])
    if soft_cap is None:
      return s, None
    t = jnp.tanh(s / soft_cap)
    return t * soft_cap, t


def _shift(a, r: int, count: int, start: bool):
  """Diagonal r's per-block values [N-r, ...] padded back to [N, ...]: at
  the end (they belong to blocks 0..N-r-1) or at the start (r..N-1)."""
  pad = [(r, 0) if start else (0, r)] + [(0, 0)] * (a.ndim - 1)
  return jnp.pad(a, pad) if r else a


def _forward_one(window, soft_cap, block, q, k, v, valid):
  """One sequence: output [T, K, G, h] and each row's log-sum-exp."""
  b = _Blocks(block, q, k, v, valid)
  n = b.count
  rows = b.q.shape[:3]
  top = jnp.full(rows, -jnp.inf, b.dtype)
  total = jnp.zeros(rows, b.dtype)
  acc = jnp.zeros(b.q.shape, b.dtype)
  for r, kept in diagonals(n, block, window):
    s, _ = b.scores(r, soft_cap)
    s = jnp.where(b.mask(r, kept), s, -jnp.inf)
    old = top[r:]
    new = jnp.maximum(old, jnp.max(s, axis=-1))
    safe = jnp.where(jnp.isfinite(new), new, 0.0)
    p = jnp.exp(s - safe[..., None])
    fade = jnp.exp(old - safe)
    part_total = total[r:] * fade + jnp.sum(p, axis=-1)
    part_acc = acc[r:] * fade[..., None] + jnp.einsum(
        "nkqs,nksh->nkqh", p, b.v[: n - r])
    top = jnp.concatenate([top[:r], new])
    total = jnp.concatenate([total[:r], part_total])
    acc = jnp.concatenate([acc[:r], part_acc])
  seen = total > 0
  out = acc / jnp.where(seen, total, 1.0)[..., None]
  safe_top = jnp.where(seen, top, 0.0)
  lse = safe_top + jnp.log(jnp.where(seen, total, 1.0))
  return b.unqueries(out), lse


def _backward_one(window, soft_cap, block, q, k, v, valid, out, lse, d_out):
  """One sequence's dq, dk, dv, recomputing each diagonal's probabilities."""
  b = _Blocks(block, q, k, v, valid)
  n = b.count
  pad = -b.length % block
  d_out = b.queries(jnp.pad(d_out.astype(b.dtype),
                            [(0, pad), (0, 0), (0, 0), (0, 0)]))
  out = b.queries(jnp.pad(out.astype(b.dtype),
                          [(0, pad), (0, 0), (0, 0), (0, 0)]))
  dot = jnp.sum(d_out * out, axis=-1)  # [N, K, G*C]
  dq = jnp.zeros(b.q.shape, b.dtype)
  dk = jnp.zeros(b.k.shape, b.dtype)
  dv = jnp.zeros(b.v.shape, b.dtype)
  for r, kept in diagonals(n, block, window):
    s, t = b.scores(r, soft_cap)
    mask = b.mask(r, kept)
    p = jnp.where(mask, jnp.exp(s - lse[r:][..., None]), 0.0)
    dv = dv + _shift(jnp.einsum("nkqs,nkqh->nksh", p, d_out[r:]), r, n,
                     start=False)
    dp = jnp.einsum("nkqh,nksh->nkqs", d_out[r:], b.v[: n - r])
    ds = p * (dp - dot[r:][..., None])
    if t is not None:
      ds = ds * (1.0 - t * t)
    dq = dq + _shift(jnp.einsum("nkqs,nksh->nkqh", ds, b.k[: n - r]), r, n,
                     start=True)
    dk = dk + _shift(jnp.einsum("nkqs,nkqh->nksh", ds, b.q[r:]), r, n,
                     start=False)
  return b.unqueries(dq), b.unkeys(dk), b.unkeys(dv)
