"""Gradients along a path of embedding rows: integrated gradients, and the
raw gradient rows that contrastive maps subtract.

The per-click engine (engine.py) turns one gradient into scores and keeps
the forward pass for span changes. Two methods need more than that:

- integrated gradients: the gradient of the target's loss averaged along
  the straight path from a baseline to the real rows, for the tokens that
  move (the prompt's, BOS excluded), then dotted with (rows - baseline).
  The baseline is each table's row of the pad token, so the path never
  crosses the zero vector, where RMSNorm is discontinuous (a zero baseline
  would leave every token's direction, hence most of its meaning, in place
  for every step but the last). Completeness: the attributions add up to
  L(real rows) - L(baseline rows), up to the quadrature's error;
- contrastive maps: g_target - g_foil over the prompt's rows, from two texts
  that share the prompt, so the raw gradient rows are returned, not scores.

Both are one compiled function: the loss's gradient at rows
`E + (alpha - 1) * moving * (E - baseline)` for a few alphas at a time
(alpha = 1 and no moving rows is the plain gradient), averaged with
quadrature weights. Gauss-Legendre nodes on [0, 1] integrate the smooth
path far better than a Riemann sum of the same number of steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lit_gemma.salience import buckets
from lit_gemma.salience import methods as methods_lib

DEFAULT_STEPS = methods_lib.INTEGRATED_STEPS


def quadrature(steps: int) -> tuple[np.ndarray, np.ndarray]:
  """Gauss-Legendre nodes and weights on [0, 1] (weights add up to 1)."""
  if steps < 1:
    raise ValueError(f"steps={steps} must be at least 1")
  nodes, weights = np.polynomial.legendre.leggauss(steps)
  return (nodes + 1) / 2, weights / 2


def _wide(x: jax.Array) -> jax.Array:
  """float32 at least (bfloat16 widened; a float64 model stays float64)."""
  return x.astype(jnp.promote_types(x.dtype, jnp.float32))


@dataclasses.dataclass(frozen=True)
class PathResult:
  """Weighted mean gradient rows along the path, for each text.

  Attributes:
    grads: per token table, [T, d_k] (float32 at least): sum_j w_j
      dL/dr (alpha_j).
    deltas: per token table, [T, d_k]: (rows - baseline) on moving rows,
      0 elsewhere (what integrated gradients dots the mean gradient with).
    rows: per token table, [T, d_k]: the real embedding rows.
    loss: L at the real rows; baseline_loss: L at the baseline rows.
  """

  grads: tuple[np.ndarray, ...]
  deltas: tuple[np.ndarray, ...]
  rows: tuple[np.ndarray, ...]
  loss: float
  baseline_loss: float


class PathGradients:
  """Gradients of target losses along straight paths of embedding rows.

  Shares the engine's forward pass, target loss, shape buckets and lock.
  """

  def __init__(self, engine):
    self.engine = engine
    self._grads_step = jax.jit(self._grads)
    self._loss_step = jax.jit(self._losses)

  # ------------------------------------------------------------ traced

  def _rows(self, params, ids, moving, alpha):
    forward = self.engine.forward
    real = forward.embed(params, ids)
    base = forward.embed(params, jnp.full_like(ids, self.engine.pad_id))
    scale = ((alpha - 1.0) * moving)[:, None]
    return real, base, tuple(e + scale.astype(e.dtype) * (e - b)
                             for e, b in zip(real, base))

  def _loss_at(self, params, rows, ids, padding, positions, valid):
    hidden = self.engine.forward.hidden(
        params, tuple(r[None] for r in rows), padding[None])[0]
    return self.engine.target_loss(params, hidden, ids, positions, valid)

  def _one_text(self, params, ids, padding, positions, valid, moving,
                alphas, weights):
    real, base, _ = self._rows(params, ids, moving, jnp.float32(1.0))

    def grad_at(alpha):
      _, _, rows = self._rows(params, ids, moving, alpha)
      grads = jax.grad(self._loss_at, argnums=1)(
          params, rows, ids, padding, positions, valid)
      return tuple(_wide(g) for g in grads)

    per_alpha = jax.vmap(grad_at)(alphas)  # per table: [S, T, d_k]
    mean = tuple(jnp.tensordot(weights, g, axes=1) for g in per_alpha)
    deltas = tuple(_wide((e - b) * moving[:, None].astype(e.dtype))
                   for e, b in zip(real, base))
    return mean, deltas, tuple(_wide(e) for e in real)

  def _grads(self, params, ids, padding, positions, valid, moving, alphas,
             weights):
    return jax.vmap(self._one_text,
                    in_axes=(None, 0, 0, 0, 0, 0, None, None))(
        params, ids, padding, positions, valid, moving, alphas, weights)

  def _losses(self, params, ids, padding, positions, valid, moving, alpha):
    def one(i, p, pos, v, m):
      _, _, rows = self._rows(params, i, m, alpha)
      return self._loss_at(params, rows, i, p, pos, v)

    return jax.vmap(one)(ids, padding, positions, valid, moving)

  # -------------------------------------------------------------- host

  def gradients(self, token_ids: Sequence[Sequence[int]],
                target_masks: Sequence[Sequence[float]],
                moving: Sequence[Sequence[float]] | None = None,
                steps: int | None = None,
                progress=None) -> list[PathResult]:
    """One PathResult per text.

    Args:
      token_ids: texts, each starting with BOS.
      target_masks: per text, 0/1 (or weights) over its tokens: the
        positions whose -log p makes the loss (position 0 ignored).
      moving: per text, 1 for each row that travels from the baseline (the
        rest stay real); None: no row moves, and the result is the plain
        gradient at the real rows.
      steps: quadrature nodes along the path (None: 1 node at alpha = 1,
        the plain gradient; only meaningful with `moving`).
      progress: called with (nodes done, nodes) after each compiled call.
    """
    engine = self.engine
    if len(token_ids) != len(target_masks):
      raise ValueError(f"got {len(token_ids)} texts but "
                       f"{len(target_masks)} target masks")
    if steps is None:
      alphas, weights = np.ones(1), np.ones(1)
    else:
      alphas, weights = quadrature(steps)
    length = buckets.sequence_bucket(max(len(t) for t in token_ids))
    rows = len(token_ids)
    ids, padding = buckets.pad_rows(token_ids, rows, length, engine.pad_id)
    masks = [np.asarray(m, np.float32).reshape(-1) for m in target_masks]
    for text, mask in zip(token_ids, masks):
      if len(mask) != len(text):
        raise ValueError(f"target mask has {len(mask)} entries but the "
                         f"text has {len(text)} tokens")
    width = buckets.target_bucket(
        max(int(np.count_nonzero(m[1:])) for m in masks), length)
    positions = np.ones((rows, width), np.int32)
    valid = np.zeros((rows, width), np.float32)
    for row, mask in enumerate(masks):
      picked = np.flatnonzero(mask[1:]) + 1
      positions[row, : len(picked)] = picked
      valid[row, : len(picked)] = mask[picked]
    wide = np.float64 if str(engine.forward.dtype) == "float64" else (
        np.float32)
    move = np.zeros((rows, length), wide)
    for row, m in enumerate(moving or []):
      move[row, : len(m)] = np.asarray(m, np.float32)
    # A few alphas per compiled call, as many as the engine batches texts.
    chunk = buckets.power_of_two_bucket(
        max(1, min(len(alphas), engine.max_batch // rows or 1)))
    total = None
    with engine.lock:
      params = engine.forward.params()
      for start in range(0, len(alphas), chunk):
        a = np.ones(chunk, wide)
        w = np.zeros(chunk, wide)
        a[: len(alphas[start:start + chunk])] = alphas[start:start + chunk]
        w[: len(weights[start:start + chunk])] = weights[start:start + chunk]
        grads, deltas, real = self._grads_step(
            params, ids, padding, positions, valid, move, a, w)
        total = grads if total is None else tuple(
            t + g for t, g in zip(total, grads))
        if progress is not None:
          progress(min(start + chunk, len(alphas)), len(alphas))
      ends = [self._loss_step(params, ids, padding, positions, valid, move,
                              wide(alpha)) for alpha in (1.0, 0.0)]
    total, deltas, real = jax.device_get((total, deltas, real))
    losses, baseline = (np.asarray(e, np.float64) for e in ends)
    return [
        PathResult(tuple(g[row, : len(text)] for g in total),
                   tuple(d[row, : len(text)] for d in deltas),
                   tuple(r[row, : len(text)] for r in real),
                   float(losses[row]), float(baseline[row]))
        for row, text in enumerate(token_ids)]
