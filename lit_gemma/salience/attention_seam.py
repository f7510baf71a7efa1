"""keras-hub's attention layers, with their scores computed blockwise on request.

Every family's attention layer projects, normalizes and rotates q and k
itself, then hands them to its `_compute_attention(q, k, v, mask, ...)` for
the scores, softmax and weighted sum, the part that builds [heads, T, T].
`install` wraps that one method on each decoder block's attention layer
(and, where keras-hub zeroes empty rows afterwards, the block's mask).
Inside `blocked(padding_mask)`, which the forward pass enters while it
traces a decoder block for a long enough text, the wrapper computes the
same function with blocked_attention, reading the layer's own scaling,
soft-cap, window and head grouping; everywhere else (generation, short
texts, another thread) it is keras-hub's method, untouched. The padding
mask travels in a context variable, so nothing leaks across threads.

What each family's method computes (keras-hub 0.32):
- Gemma 1-3 (`CachedGemmaAttention`, `CachedGemma3Attention`): q times
  1/sqrt(head_dim) (Gemma 2: 1/sqrt(hidden_dim / heads)), optional tanh
  soft-cap, the sliding window applied inside the method.
- Gemma 4 (`Gemma4TextAttention`): no scaling (q/k norms instead),
  optional soft-cap, the window applied by the decoder block to sliding
  layers that are not global; K=V global layers have their own K/V heads.
- Gemma 3n (`Gemma3nTextAttention`): q, k, v arrive [B, heads, T, h], no
  scaling or cap; the window is the layer's `sliding_window` (None: global).
"""

from __future__ import annotations

import contextlib
import contextvars

import jax.numpy as jnp
import numpy as np

from lit_gemma.salience import blocked_attention

# Sequence buckets of at least this many tokens compute attention
# blockwise; shorter ones keep keras-hub's (faster there: see README's
# "Long prompts" for the measured crossover).
BLOCKED_FROM = 2048

_PADDING = contextvars.ContextVar("lit_gemma_blocked_padding", default=None)


def is_blockwise(length: int) -> bool:
  """Whether a padded sequence of `length` tokens computes blockwise."""
  return length >= BLOCKED_FROM


@contextlib.contextmanager
def blocked(padding_mask):
  """Within this context, routed attention layers compute blockwise, with
  `padding_mask` [B, T] (1 for a real token) marking the keys."""
  token = _PADDING.set(padding_mask)
  try:
    yield
  finally:
    _PADDING.reset(token)


def install(blocks) -> None:
  """Routes the attention of each decoder block among `blocks`
  (idempotent)."""
  for block in blocks:
    attention = block.attention
    name = type(attention).__name__
    _route(attention, "_compute_attention", _ADAPTERS[name])
    if name in _WIPED:
      _route(block, "_compute_attention_mask", _every_row_attends)


def _route(layer, method: str, blockwise) -> None:
  """Replaces `layer.method` by one that calls `blockwise(layer, padding,
  ...)` inside `blocked` and the original everywhere else."""
  if method in vars(layer):
    return
  original = getattr(layer, method)

  def routed(*args, **kwargs):
    padding = _PADDING.get()
    if padding is None:
      return original(*args, **kwargs)
    return blockwise(layer, padding, *args, **kwargs)

  # Past keras' attribute tracking: a plain function, never a weight.
  object.__setattr__(layer, method, routed)


def _every_row_attends(layer, padding, x, *args, **kwargs):
  """The mask a Gemma 1-4 decoder block hands its attention layer.

  Blocked attention reads the padding itself; keras-hub's layer still
  zeroes the rows whose mask row is all zeros, which builds a [B, T, T]
  comparison XLA keeps (64 MiB at 8k tokens, 1 GiB at 32k). A row that
  sees no key is already zero here, so the layer gets [B, T, 1] ones."""
  del layer, padding, args, kwargs
  return jnp.ones(x.shape[:2] + (1,), "int32")


def _grouped(q, k, v, padding, kv_heads: int, window, soft_cap):
  """q [B, T, H, h] (scaled) over k, v [B, T, K, h] -> [B, T, H, h]."""
  batch, length, heads, width = q.shape
  q = q.reshape(batch, length, kv_heads, heads // kv_heads, width)
  out = blocked_attention.attend(q, k, v, padding, window=window,
                                 soft_cap=soft_cap)
  return out.reshape(batch, length, heads, width)


def _gemma(layer, padding, q, k, v, attention_mask, training=False,
           cache_update_index=0):
  del attention_mask, training, cache_update_index
  if layer.query_head_dim_normalize:
    scale = 1 / np.sqrt(layer.head_dim)
  else:
    scale = 1 / np.sqrt(layer.hidden_dim // layer.num_query_heads)
  q = q * jnp.asarray(scale, q.dtype)
  window = (layer.sliding_window_size if layer.use_sliding_window_attention
            else None)
  return _grouped(q, k, v, padding, layer.num_key_value_heads, window,
                  layer.logit_soft_cap)


def _gemma4(layer, padding, q, k, v, attention_mask, training=False,
            cache_update_index=0):
  del attention_mask, training, cache_update_index
  sliding = (layer.use_sliding_window_attention
             and not layer.is_global_attention)
  window = layer.sliding_window_size if sliding else None
  return _grouped(q, k, v, padding, layer.effective_num_kv_heads, window,
                  layer.logit_soft_cap)


def _gemma3n(layer, padding, query, key, value, attention_mask,
             training=False):
  """Gemma 3n's method also returns its probabilities, which its decoder
  block drops: None here."""
  del attention_mask, training
  q, k, v = (jnp.swapaxes(a, 1, 2) for a in (query, key, value))
  out = _grouped(q, k, v, padding, layer.num_key_value_heads,
                 layer.sliding_window, None)
  return out, None


# Attention layers that zero the rows their mask leaves empty, after
# `_compute_attention` (Gemma 3n's does not).
_WIPED = ("CachedGemmaAttention", "CachedGemma3Attention",
          "Gemma4TextAttention")
_ADAPTERS = {
    "CachedGemmaAttention": _gemma,
    "CachedGemma3Attention": _gemma,
    "Gemma4TextAttention": _gemma4,
    "Gemma3nTextAttention": _gemma3n,
}
