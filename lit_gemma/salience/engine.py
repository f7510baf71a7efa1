"""The sequence-salience engine: gradients of a target's loss with respect to
the prompt's token embeddings, jit-compiled per shape bucket.

For token ids x_0..x_{T-1} and a 0/1 target mask m (m_0, for BOS, is ignored)

    L = sum_t m_t * -log p(x_t | x_<t),   g = dL/dE,

where E are the raw embedding rows of the tokens: one row per token table
(models with a per-layer token table have two; g runs over both). Each
registered method (see methods.py) turns (g, E) into one score per token.
The forward pass comes from the family registered for the backbone (see
forward.py); nothing here depends on the family.

Two costs dominate: the decoder stack (forward, then backward to E) and the
262k-row vocabulary projection. The projection is computed only at the
target positions. A UI user clicks many spans of the same answer, and only
the backward pass depends on the span, so the forward pass's VJP residuals
are kept for the last few texts: a span change on a kept text runs the
target loss and the backward pass alone.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lit_gemma.salience import buckets
from lit_gemma.salience import engine_lock
from lit_gemma.salience import forward as forward_lib
from lit_gemma.salience import long_text
from lit_gemma.salience import methods as methods_lib
from lit_gemma.salience.vjp_layout import VjpLayout

SalienceMap = dict[str, np.ndarray]


@dataclasses.dataclass(eq=False)
class _KeptForward:
  """One text's forward pass: enough to serve any new target mask."""

  layout: VjpLayout
  activations: list[jax.Array]  # batched over the call that made them
  hidden: jax.Array  # [B, T, d]
  embeddings: tuple[jax.Array, ...]  # per token table: [B, T, d_k]
  token_ids: jax.Array  # [B, T]
  index: int  # this text's row in the batch
  length: int  # unpadded token count


class SalienceEngine:
  """Computes salience maps for a keras-hub Gemma causal LM's backbone.

  Thread-safe: one lock serializes every call, so concurrent requests (a
  team server's threads) never share or evict each other's kept forward
  passes mid-call. Nothing is lost by waiting: each call already uses
  every core (XLA's CPU thread pool), the CPU is the bottleneck.
  """

  def __init__(
      self,
      backbone,
      methods: Sequence[str] = methods_lib.DEFAULT_METHODS,
      kept_texts: int = 8,
      kept_bytes: int = 2 << 30,
      max_batch: int = 8,
      pad_id: int = 0,
      final_logit_cap: float | None = None,
  ):
    """Builds the engine.

    Args:
      backbone: a keras-hub backbone of a registered family (text-only
        Gemma 1-3, Gemma 4 or Gemma 3n; see forward.py).
      methods: names of salience methods to compute (see methods.py).
      kept_texts: most texts whose forward pass is kept for span changes.
      kept_bytes: most memory those kept forward passes may hold, with
        those a fresh call is making; the newest is always kept.
      max_batch: most texts per compiled call (their forward passes are
        held together until the call ends).
      pad_id: token id used to pad texts to a shape bucket.
      final_logit_cap: the causal LM's own tanh cap on the logits, if it
        has one beside the backbone's (`Gemma4CausalLM.final_logit_cap`).
    """
    self.forward = forward_lib.make_forward(backbone, final_logit_cap)
    self.methods = methods_lib.check_names(methods)
    self.pad_id = pad_id
    self._kept_texts = kept_texts
    self._kept_bytes = kept_bytes
    self._max_batch = max_batch
    self._kept: collections.OrderedDict[tuple[int, ...], _KeptForward] = (
        collections.OrderedDict()
    )
    self._layouts: dict[int, VjpLayout] = {}
    self._lock = engine_lock.TimedLock()  # Waits show in the server log.
    self._salience_step = jax.jit(self._batch_salience)
    self._span_step = jax.jit(self._kept_span, static_argnums=0)
    self._logits_step = jax.jit(self.forward.full_logits)
    self._hidden_step = jax.jit(
        lambda params, ids, padding: self.forward.hidden(
            params, self.forward.embed(params, ids), padding))

  # ---------------------------------------------------------------- public

  def salience(
      self,
      token_ids: Sequence[Sequence[int]],
      target_masks: Sequence[Sequence[float]],
  ) -> list[SalienceMap]:
    """One salience map (method name -> [T] scores) per (ids, mask) pair."""
    if len(token_ids) != len(target_masks):
      raise ValueError(
          f"got {len(token_ids)} token sequences but "
          f"{len(target_masks)} target masks"
      )
    with self._lock:
      results: list[SalienceMap | None] = [None] * len(token_ids)
      fresh = []
      for i, (ids, mask) in enumerate(zip(token_ids, target_masks)):
        ids = tuple(int(t) for t in ids)
        mask = self._check_mask(ids, mask)
        if not mask[1:].any():
          results[i] = self._zeros(len(ids))
        elif ids in self._kept:
          results[i] = self._from_kept(ids, [mask])[0]
        else:
          fresh.append((i, ids, mask))
      for start in range(0, len(fresh), self._max_batch):
        chunk = fresh[start : start + self._max_batch]
        maps = self._run_fresh([ids for _, ids, _ in chunk],
                               [[mask] for _, _, mask in chunk])
        for (i, _, _), per_mask in zip(chunk, maps):
          results[i] = per_mask[0]
      return results

  def salience_for_masks(
      self, token_ids: Sequence[int], target_masks: Sequence[Sequence[float]]
  ) -> list[SalienceMap]:
    """K salience maps for one text, computed in one compiled call."""
    ids = tuple(int(t) for t in token_ids)
    with self._lock:
      masks = [self._check_mask(ids, m) for m in target_masks]
      if not masks:
        return []
      if ids in self._kept:
        return self._from_kept(ids, masks)
      return self._run_fresh([ids], [masks])[0]

  def logits(self, token_ids: Sequence[int]) -> np.ndarray:
    """Full next-token logits [T, V] through the same forward pass."""
    return self._one_padded_text(self._logits_step, token_ids)

  def forward_hidden(self, token_ids: Sequence[int]) -> np.ndarray:
    """Final hidden states [T, d]: the decoder stack alone (benchmarks)."""
    return self._one_padded_text(self._hidden_step, token_ids)

  def _one_padded_text(self, step, token_ids) -> np.ndarray:
    length = len(token_ids)
    ids, padding = buckets.pad_rows([token_ids], 1,
                                    buckets.sequence_bucket(length),
                                    self.pad_id)
    with self._lock:
      out = step(self.forward.params(), ids, padding)
    return np.asarray(out[0, :length], dtype=np.float32)

  def lower_clicks(self, length: int, width: int = 1) -> list:
    """The programs a click on one text of `length` tokens with up to
    `width` target tokens uses, lowered (traced) but not compiled or run:
    the first click on a text (forward and backward) and another span of
    it (backward only). Compiling them (`.compile()`, thread-safe) fills
    jit's caches: a later call in those buckets compiles nothing, and
    nothing was kept in place of a user's text."""
    length = buckets.sequence_bucket(length)
    width = buckets.target_bucket(width, length)
    params = self.forward.params()
    spec = jax.ShapeDtypeStruct
    ids = spec((1, length), np.int32)
    targets = (spec((1, 1, width), np.int32), spec((1, 1, width), np.float32))
    with self._lock:  # Tracing records the span step's layout.
      fresh = self._salience_step.lower(params, ids, ids, *targets)
      _, hidden, embeddings, activations = fresh.out_info
      span = self._span_step.lower(
          self._layouts[length], params, activations, hidden, embeddings,
          ids, spec((), np.int32), *(spec(t.shape[1:], t.dtype)
                                     for t in targets))
    return [fresh, span]

  def forget(self) -> None:
    """Drops every kept forward pass (frees their memory)."""
    with self._lock:
      self._kept.clear()

  @property
  def kept_texts(self) -> int:
    return len(self._kept)

  @property
  def max_batch(self) -> int:
    """Most texts per compiled call."""
    return self._max_batch

  @property
  def lock(self) -> engine_lock.TimedLock:
    """The lock every call holds (integrated.py's calls share it)."""
    return self._lock

  def target_loss(self, params, hidden, token_ids, positions, valid):
    """Traced: sum of -log p(token_t | prefix) at one text's targets."""
    return self._target_loss(params, hidden, token_ids, positions, valid)

  # ----------------------------------------------------------- host side

  @staticmethod
  def _check_mask(ids: tuple[int, ...], mask) -> np.ndarray:
    mask = np.asarray(mask, dtype=np.float32).reshape(-1)
    if mask.shape[0] != len(ids):
      raise ValueError(
          f"target_mask has {mask.shape[0]} entries but the text has "
          f"{len(ids)} tokens"
      )
    return mask

  def _zeros(self, length: int) -> SalienceMap:
    return {name: np.zeros(length, np.float32) for name in self.methods}

  def _run_fresh(self, texts, masks_per_text) -> list[list[SalienceMap]]:
    """Forward + backward for texts without kept residuals; keeps them."""
    length = buckets.sequence_bucket(max(len(t) for t in texts))
    batch = buckets.power_of_two_bucket(len(texts))
    count = buckets.power_of_two_bucket(max(len(m) for m in masks_per_text))
    width = buckets.mask_width(
        [m for masks in masks_per_text for m in masks], length)
    ids, padding = buckets.pad_rows(texts, batch, length, self.pad_id)
    positions = np.ones((batch, count, width), np.int32)
    valid = np.zeros((batch, count, width), np.float32)
    for row, masks in enumerate(masks_per_text):
      targets = buckets.pad_targets(masks, length, count, width)
      positions[row], valid[row] = targets.positions, targets.valid
    self._make_room(length, batch)
    maps, hidden, embeddings, activations = self._salience_step(
        self.forward.params(), ids, padding, positions, valid
    )
    layout = self._layouts[length]
    for row, text in enumerate(texts):
      self._keep(text, _KeptForward(layout, activations, hidden, embeddings,
                                    ids, row, len(text)))
    maps = jax.device_get(maps)
    return [
        [
            {name: maps[name][row, k, : len(text)] for name in self.methods}
            for k in range(len(masks_per_text[row]))
        ]
        for row, text in enumerate(texts)
    ]

  def _from_kept(self, ids, masks) -> list[SalienceMap]:
    """A new target mask on a kept text: loss and backward pass only."""
    kept = self._kept[ids]
    self._kept.move_to_end(ids)
    length = kept.hidden.shape[1]
    targets = buckets.pad_targets(masks, length,
                                  buckets.power_of_two_bucket(len(masks)),
                                  buckets.mask_width(masks, length))
    maps = self._span_step(
        kept.layout, self.forward.params(), kept.activations, kept.hidden,
        kept.embeddings, kept.token_ids, np.int32(kept.index),
        targets.positions, targets.valid,
    )
    maps = jax.device_get(maps)
    return [
        {name: maps[name][k, : kept.length] for name in self.methods}
        for k in range(len(masks))
    ]

  def _make_room(self, length: int, batch: int) -> None:
    """Drops old kept forward passes before a fresh call, so that they and
    the call's own (about to be kept) fit the budget together: evicting only
    afterwards would let the peak reach the budget plus a whole call."""
    layout = self._layouts.get(length)
    if layout is None:  # Not compiled yet: its size is unknown.
      return
    coming = batch * sum(int(np.prod(shape)) * np.dtype(dtype).itemsize
                         for shape, dtype in layout.activation_avals)
    while self._kept and self.kept_bytes + coming > self._kept_bytes:
      self._kept.popitem(last=False)

  def _keep(self, ids, kept: _KeptForward) -> None:
    if long_text.is_long(kept.hidden.shape[1]):
      return  # The long-text path recomputes on a span change.
    self._kept[ids] = kept
    self._kept.move_to_end(ids)
    while len(self._kept) > 1 and (len(self._kept) > self._kept_texts or
                                   self.kept_bytes > self._kept_bytes):
      self._kept.popitem(last=False)

  @property
  def kept_bytes(self) -> int:
    """Memory held by kept forward passes (shared batch arrays once)."""
    with self._lock:
      arrays = {id(a): a for k in self._kept.values()
                for a in (*k.activations, k.hidden, *k.embeddings)}
    return sum(a.nbytes for a in arrays.values())

  # -------------------------------------------------------- traced side

  def _record_layout(self, length: int, vjp_fn, params) -> list[jax.Array]:
    """Splits a VJP into weights and activations; returns the activations.

    Runs while tracing. Layouts are interned per sequence bucket so that
    every compiled forward variant feeds the same compiled span step.
    """
    leaves, treedef = jax.tree_util.tree_flatten(vjp_fn)
    param_ids = {id(p): i for i, p in enumerate(jax.tree_util.tree_leaves(params))}
    slots = tuple(param_ids.get(id(leaf), -1) for leaf in leaves)
    activations = [leaf for leaf, s in zip(leaves, slots) if s < 0]
    layout = VjpLayout(
        treedef, slots,
        tuple((tuple(a.shape), str(a.dtype)) for a in activations),
    )
    known = self._layouts.get(length)
    if known is None or not known.same_structure(layout):
      self._layouts[length] = layout
    return activations

  def _target_loss(self, params, hidden, token_ids, positions, valid):
    """Sum of -log p(token_t | prefix) over the (padded) target positions."""
    chunk = long_text.TARGET_CHUNK
    if positions.shape[0] <= chunk:
      return self._chunk_loss(params, hidden, token_ids, positions, valid)
    # [N, V] float32 logits are 1 GiB per 1,000 targets at a 262k vocabulary:
    # project `chunk` targets at a time, recomputed in the backward pass.
    pad = -positions.shape[0] % chunk
    positions = jnp.pad(positions, (0, pad), constant_values=1)
    valid = jnp.pad(valid, (0, pad))
    step = jax.checkpoint(
        lambda p, v: self._chunk_loss(params, hidden, token_ids, p, v))
    losses = jax.lax.map(lambda pv: step(*pv),
                         (positions.reshape(-1, chunk), valid.reshape(-1, chunk)))
    return jnp.sum(losses)

  def _chunk_loss(self, params, hidden, token_ids, positions, valid):
    rows = jnp.take(hidden, positions - 1, axis=0)  # [N, d]
    logits = self.forward.logits(params, rows[None])[0].astype(jnp.float32)
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    labels = jnp.take(token_ids, positions)
    picked = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
    return -jnp.sum(picked * valid)

  def _scores(self, vjp_fn, params, hidden, embeddings, token_ids,
              positions, valid):
    """Method scores [T] for one mask, given the text's VJP."""
    hidden_grad = jax.grad(self._target_loss, argnums=1)(
        params, hidden, token_ids, positions, valid
    )
    (grads,) = vjp_fn(hidden_grad.astype(hidden.dtype))
    grads = [g.astype(jnp.float32) for g in grads]
    embeddings = [e.astype(jnp.float32) for e in embeddings]
    return {name: methods_lib.METHODS[name].scores(grads, embeddings)
            for name in self.methods}

  def _one_text(self, params, token_ids, padding, positions, valid):
    """Forward, VJP and K masks' scores for one text (vmapped over texts)."""
    embeddings = self.forward.embed(params, token_ids)

    def hidden_of(rows):
      return self.forward.hidden(params, tuple(r[None] for r in rows),
                                 padding[None])[0]

    hidden, vjp_fn = jax.vjp(hidden_of, embeddings)
    activations = self._record_layout(token_ids.shape[0], vjp_fn, params)
    if long_text.is_long(token_ids.shape[0]):
      activations = []  # Not kept (_keep): returning them would hold them.
    scores = jax.vmap(
        lambda p, v: self._scores(vjp_fn, params, hidden, embeddings,
                                  token_ids, p, v)
    )(positions, valid)
    return scores, hidden, embeddings, activations

  def _batch_salience(self, params, token_ids, padding, positions, valid):
    return jax.vmap(self._one_text, in_axes=(None, 0, 0, 0, 0))(
        params, token_ids, padding, positions, valid
    )

  def _kept_span(self, layout, params, activations, hidden, embeddings,
                 token_ids, index, positions, valid):
    pick = lambda a: jax.lax.dynamic_index_in_dim(a, index, keepdims=False)
    vjp_fn = layout.rebuild(params, [pick(a) for a in activations])
    hidden, token_ids = pick(hidden), pick(token_ids)
    embeddings = tuple(pick(e) for e in embeddings)
    return jax.vmap(
        lambda p, v: self._scores(vjp_fn, params, hidden, embeddings,
                                  token_ids, p, v)
    )(positions, valid)
