"""Blocked attention equals keras-hub's attention, and its memory is linear.

Each kind of decoder block of tiny Gemma 2 (attention soft-caps,
alternating windows), Gemma 3, Gemma 4 (per-layer inputs and K/V sharing;
K=V global heads with partial RoPE and a soft-cap) and Gemma 3n
runs on the inputs keras-hub's own forward pass gives it, once with
keras-hub's attention and once blockwise: outputs and gradients (with
respect to the block's input, weights, per-layer input and borrowed K/V)
agree within 1e-5. Texts are 45 tokens, the last 5 padding, with windows
of 8 and blocks of 16 (several windows and blocks, a partial last block).
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lit_gemma.salience import attention_seam
from lit_gemma.salience import blocked_attention
from lit_gemma.salience import engine as engine_lib
from lit_gemma.salience import forward as forward_lib
from lit_gemma.salience import gemma3n
from lit_gemma.salience import gemma4
from lit_gemma.salience import long_text
import tiny_gemma4
import tiny_models

LENGTH, REAL = 45, 40


def _dense(q, k, v, valid, window, cap):
  """Masked softmax attention written out whole, as keras-hub does it."""
  s = jnp.einsum("btkgh,bskh->bkgts", q, k)
  if cap:
    s = jnp.tanh(s / cap) * cap
  i, j = np.arange(q.shape[1])[:, None], np.arange(q.shape[1])[None]
  mask = (j <= i) & ((i - j < window) if window else True)
  mask = mask[None, None, None] & (valid[:, None, None, None, :] > 0)
  p = jnp.where(mask, jax.nn.softmax(jnp.where(mask, s, -1e9), -1), 0.0)
  return jnp.einsum("bkgts,bskh->btkgh", p, v)


@pytest.mark.parametrize("length,window,cap,block", [
    (45, 8, None, 16), (45, 8, 50.0, 8), (37, 10, None, 8),
    (64, None, None, 16), (64, None, 30.0, 16), (50, 3, None, 4)])
def test_attend_equals_whole_softmax(length, window, cap, block):
  """Outputs and gradients, with grouped heads, padding and a first text
  whose first keys are padding (rows that see nothing give zeros)."""
  rng = np.random.default_rng(0)
  q = jnp.asarray(rng.normal(size=(2, length, 2, 3, 8)), jnp.float32)
  k, v = (jnp.asarray(rng.normal(size=(2, length, 2, 8)), jnp.float32)
          for _ in range(2))
  valid = np.ones((2, length), np.float32)
  valid[:, length - 5:] = 0
  valid[1, :3] = 0
  w = jnp.asarray(rng.normal(size=q.shape), jnp.float32)

  def loss(attention):
    return lambda *qkv: jnp.sum(attention(*qkv) * w)

  blocked = lambda q, k, v: blocked_attention.attend(
      q, k, v, valid, window=window, soft_cap=cap, block=block)
  whole = lambda q, k, v: _dense(q, k, v, valid, window, cap)
  _close(blocked(q, k, v), whole(q, k, v))
  for got, want in zip(jax.grad(loss(blocked), (0, 1, 2))(q, k, v),
                       jax.grad(loss(whole), (0, 1, 2))(q, k, v)):
    _close(got, want)


def _close(got, want, tolerance=1e-5):
  """Relative error below `tolerance` (numpy: an eager jnp op compiles)."""
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  error = np.linalg.norm(got - want) / np.linalg.norm(want)
  assert error < tolerance, error


# family module, the index of the padding mask among `_block_impl`'s args
_MODULES = {"gemma": (forward_lib, 4), "gemma4": (gemma4, 4),
            "gemma3n": (gemma3n, 5)}
# The mixture-of-experts model's attention is dense_ple's without the
# per-layer inputs: left out.
_MODELS = ["gemma2", "gemma3", "dense_ple", "kv_global", "gemma3n"]


def _build(name):
  if name in tiny_models.FAMILIES:
    return tiny_models.build_causal_lm(name).backbone, None, "gemma"
  return (*tiny_gemma4.build(name),
          "gemma3n" if name == "gemma3n" else "gemma4")


def _recorded_block_inputs(forward, module):
  """Each decoder block's arguments in keras-hub's own forward pass (one
  compiled program: eagerly, each keras op would compile on its own)."""
  calls = []

  def record(*args):
    calls.append(args)
    return module._block_impl(*args)  # pylint: disable=protected-access

  def run(params, ids, padding):
    calls.clear()
    with pytest.MonkeyPatch.context() as patch:
      patch.setattr(module, "_block_step", record)
      forward.hidden(params, forward.embed(params, ids), padding)
    return [args[1:] for args in calls]

  rng = np.random.default_rng(1)
  ids = jnp.asarray(rng.integers(3, 60, size=(1, LENGTH)), jnp.int32)
  padding = jnp.asarray(np.arange(LENGTH)[None] < REAL, jnp.int32)
  values = jax.jit(run)(forward.params(), ids, padding)
  return [(args[0], *rest) for args, rest in zip(calls, values)]


@pytest.mark.parametrize("name", _MODELS)
def test_decoder_blocks_equal_keras_hubs(name, monkeypatch):
  """One block of each kind (sliding, global, K/V-shared...), on the
  inputs keras-hub's forward pass gives the first block of that kind."""
  backbone, cap, family = _build(name)
  module, padding_at = _MODULES[family]
  monkeypatch.setattr(blocked_attention, "BLOCK", 16)
  forward = forward_lib.make_forward(backbone, cap)
  calls = _recorded_block_inputs(forward, module)
  assert len(calls) == len(forward._blocks)  # pylint: disable=protected-access
  kinds = {id(args[0]): args for args in reversed(calls)}  # first of each
  rng = np.random.default_rng(2)
  for block, *args in kinds.values():
    padding = args[padding_at - 1]
    # Differentiable: weights, the block's input, per-layer input, K/V
    # (positions among `args`, which leave out the block).
    wrt = {i for i, a in enumerate(args)
           if i not in (1, padding_at - 1) and a is not None}
    rows = np.asarray(padding, bool)[..., None]

    def loss(dynamic, blockwise, weight, block=block, args=args,
             padding=padding, rows=rows):
      full = [dynamic.get(i, a) for i, a in enumerate(args)]
      context = (attention_seam.blocked(padding) if blockwise
                 else contextlib.nullcontext())
      with context:
        out = _first(module._block_impl(block, *full))  # pylint: disable=protected-access
      return jnp.sum(out * weight), out * rows

    dynamic = {i: args[i] for i in wrt}
    shape = jax.eval_shape(lambda d: loss(d, False, 0.0)[1], dynamic).shape
    weight = jnp.asarray(rng.normal(size=shape) * rows, jnp.float32)
    step = jax.jit(jax.value_and_grad(loss, has_aux=True), static_argnums=1)
    (_, want), want_grads = step(dynamic, False, weight)
    (_, got), got_grads = step(dynamic, True, weight)
    _close(got, want)
    for i in wrt:
      for g, w in zip(jax.tree_util.tree_leaves(got_grads[i]),
                      jax.tree_util.tree_leaves(want_grads[i])):
        if np.any(np.asarray(w)):
          _close(g, w)


def _first(out):
  """A block's hidden states (Gemma 4 and 3n also return their K/V)."""
  return out[0] if isinstance(out, tuple) else out


def _compiled_temp(backbone, length, monkeypatch):
  """Working memory of the compiled salience step on the long path with
  blocked attention, one text of `length` tokens, an 8-token target."""
  monkeypatch.setattr(long_text, "threshold", 1)
  monkeypatch.setattr(attention_seam, "BLOCKED_FROM", 1)
  engine = engine_lib.SalienceEngine(backbone)
  ids = np.full((1, length), 3, np.int32)
  compiled = engine._salience_step.lower(  # pylint: disable=protected-access
      engine.forward.params(), ids, np.ones_like(ids),
      np.ones((1, 1, 8), np.int32), np.ones((1, 1, 8), np.float32)).compile()
  return compiled.memory_analysis().temp_size_in_bytes


def test_long_path_memory_grows_linearly(monkeypatch):
  """With a fixed window, 4x the tokens take at most about 4x the working
  memory (keras-hub's attention took 16x: every layer's [T, T] scores)."""
  backbone = tiny_models.build_causal_lm("gemma3").backbone
  short = _compiled_temp(backbone, 1024, monkeypatch)
  long = _compiled_temp(backbone, 4096, monkeypatch)
  assert long < 4.5 * short, (short, long)


@pytest.mark.slow
def test_gemma3n_long_path_within_twice_gemma3s(monkeypatch):
  """Gemma 3n runs block by block too: at 4,096 tokens its compiled peak
  is within 2x of a Gemma 3 of the same width (it held every layer's
  scores when its forward was one whole-stack call)."""
  gemma3 = tiny_models.build_causal_lm("gemma3").backbone
  gemma3n_backbone, _ = tiny_gemma4.build("gemma3n")
  temp3 = _compiled_temp(gemma3, 4096, monkeypatch)
  temp3n = _compiled_temp(gemma3n_backbone, 4096, monkeypatch)
  assert temp3n < 2 * temp3, (temp3, temp3n)
