"""The salience engine on tiny random Gemma 4 (dense with per-layer inputs
and K/V sharing, mixture of experts, K=V global heads with partial RoPE and
the double-wide MLP) and Gemma 3n text models: logits, gradients over both
token tables, kept residuals, buckets."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import engine_checks

import tiny_gemma4
from lit_gemma.models import lm as lm_lib
from lit_gemma.salience import engine as engine_lib
from lit_gemma.salience import forward as forward_lib
from lit_gemma.salience import gemma3n
from lit_gemma.salience import gemma4


def _text(length=30):
  """BOS and random ids, crossing the window of 8; ids 61 and 63 lie outside
  Gemma 3n's per-layer vocabulary."""
  ids = np.random.default_rng(1).integers(3, tiny_gemma4.VOCABULARY, length)
  ids[[5, 17]] = [61, 63]
  return [2] + ids.tolist()[: length - 1]


@pytest.fixture(scope="module", params=tiny_gemma4.MODELS)
def loaded(request):
  name = request.param
  backbone, cap = tiny_gemma4.build(name)
  engine = engine_lib.SalienceEngine(backbone, final_logit_cap=cap)
  return name, backbone, cap, engine, _text()


_mask = engine_checks.mask


def _assert_same_maps(got, want):
  """Equal up to float32 rounding, which a different batching of the same
  sums reorders (signed scores cancel, so the slack scales with the map)."""
  assert set(got) == set(want)
  for name in want:
    np.testing.assert_allclose(got[name], want[name], rtol=1e-5,
                               atol=2e-6 * np.abs(want[name]).max())


@contextlib.contextmanager
def _plain_blocks():
  """Runs the forward pass without rematerialization, so that values inside
  keras-hub's layers are concrete when nothing is traced."""
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(gemma4, "_block_step", gemma4._block_impl)
    patch.setattr(gemma3n, "_block_step", gemma3n._block_impl)
    yield


def _routing(engine, rows):
  """Which experts each MoE router picks for every token, per layer."""
  picked = []
  with _plain_blocks(), pytest.MonkeyPatch.context() as patch:
    for block in engine.forward._blocks:
      call = block.moe_router.call

      def recorded(x, call=call):
        weights = call(x)
        picked.append(np.asarray(weights) > 0)
        return weights

      patch.setattr(block.moe_router, "call", recorded)
    engine.forward.hidden(engine.forward.params(),
                          tuple(r[None] for r in rows),
                          jnp.ones((1, rows[0].shape[0]), "int32"))
  assert picked, "the MoE routers were not called"
  return picked


def test_logits_equal_keras_hubs_own(loaded):
  name, backbone, cap, engine, ids = loaded
  expected = tiny_gemma4.reference_logits(name, backbone, cap, ids)
  got = engine.logits(ids)
  assert got.shape == expected.shape
  assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_gradient_over_both_tables_matches_finite_differences(loaded):
  name, _, _, engine, ids = loaded
  forward, params = engine.forward, engine.forward.params()
  per_layer = name != "moe" and name != "kv_global"
  assert len(forward.tables) == (2 if per_layer else 1)
  mask = _mask(len(ids), len(ids) - 6, len(ids))
  token_ids = jnp.asarray(ids)

  def loss(rows):
    hidden = forward.hidden(params, tuple(r[None] for r in rows),
                            jnp.ones((1, len(ids)), "int32"))
    log_probs = jax.nn.log_softmax(forward.logits(params, hidden)[0], -1)
    nll = -jnp.take_along_axis(log_probs[:-1], token_ids[1:, None], -1)[:, 0]
    return jnp.sum(nll * mask[1:])

  rows = forward.embed(params, token_ids)
  loss_and_grads = jax.jit(jax.value_and_grad(loss))
  loss = lambda point: loss_and_grads(point)[0]
  _, grads = loss_and_grads(rows)
  g_norm = float(jnp.sqrt(sum(jnp.vdot(g, g) for g in grads)))
  rng = np.random.default_rng(0)
  # Along a unit direction over all tables' rows; small next to the
  # routers' margins for the MoE (float32 still resolves it).
  step = 1e-3 if name == "moe" else 1e-2
  checked = 0
  for attempt in range(12):
    v = [rng.normal(size=r.shape) for r in rows]
    if per_layer and attempt == 0:  # the per-layer table alone
      v[0] *= 0
    scale = np.sqrt(sum(np.sum(x * x) for x in v))
    v = [jnp.asarray(x / scale, jnp.float32) for x in v]
    plus = tuple(r + step * x for r, x in zip(rows, v))
    minus = tuple(r - step * x for r, x in zip(rows, v))
    if name == "moe":  # only where no router choice changes in the step
      here = _routing(engine, rows)
      if not all(np.array_equal(a, b) for point in (plus, minus)
                 for a, b in zip(here, _routing(engine, point))):
        continue
    fd = (loss(plus) - loss(minus)) / (2 * step)
    exact = sum(float(jnp.vdot(g, x)) for g, x in zip(grads, v))
    assert abs(float(fd) - exact) <= 1e-3 * g_norm
    checked += 1
    if checked == 3:
      break
  assert checked == 3, "too few directions kept every router choice"
  if per_layer:
    assert float(jnp.linalg.norm(grads[1])) > 0
  # The engine's methods: the concatenated rows' norm, the dots' sum.
  scores = engine.salience([ids], [mask])[0]
  np.testing.assert_allclose(
      scores["grad_l2"],
      np.linalg.norm(np.concatenate(grads, axis=-1), axis=-1),
      rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(
      scores["grad_dot_input"],
      sum(np.sum(np.asarray(g * r), -1) for g, r in zip(grads, rows)),
      rtol=1e-4, atol=1e-5)
  assert scores["grad_l2"].max() > 0


def test_span_change_from_kept_residuals_equals_fresh(loaded):
  _, _, _, engine, ids = loaded
  engine_checks.span_change_equals_fresh(engine, ids, _assert_same_maps)


def test_k_masks_in_one_call_equal_single_calls(loaded):
  _, _, _, engine, ids = loaded
  masks = [_mask(len(ids), 5, 9), _mask(len(ids), len(ids) - 3, len(ids))]
  engine_checks.k_masks_equal_single_calls(engine, ids, masks,
                                           _assert_same_maps)


def test_same_bucket_compiles_nothing(loaded):
  _, _, _, engine, ids = loaded
  engine_checks.same_bucket_compiles_nothing(engine, ids)


@pytest.mark.parametrize("name", tiny_gemma4.GEMMA4_MODELS)
def test_greedy_generation_equals_keras_hubs_generate(name):
  """GemmaLM's greedy continuation is keras-hub's own `generate` (through
  its TensorFlow preprocessor). The logits keras-hub's K/V-cached decoding
  path chose each token by equal the engine's within 1e-5 (relative to
  their largest), and each new token is their argmax except where the top
  two are within 1e-4."""
  causal_lm = tiny_gemma4.build_gemma4_causal_lm(name)
  lm = lm_lib.GemmaLM(causal_lm)
  prompt = "The capital of France is"
  ids = lm.encode(prompt)
  new = lm.generate_ids([ids], 10)[0]
  assert len(new) >= 3
  # keras-hub's own greedy path, fed token ids (its task has no
  # preprocessor: no TensorFlow): its cached decoding's logits and argmax.
  logits = lm.engine.logits(ids + new)[len(ids) - 1 : -1]
  cached = tiny_gemma4.cached_decode_logits(causal_lm, ids, new)
  assert cached.shape == logits.shape
  assert np.abs(cached - logits).max() <= 1e-5 * np.abs(logits).max()
  top_two = np.sort(logits, axis=-1)[:, -2:]
  clear = top_two[:, 1] - top_two[:, 0] > 1e-4
  assert clear.sum() >= len(new) - 1
  assert np.array_equal(logits.argmax(-1)[clear], np.asarray(new)[clear])
  assert np.array_equal(cached.argmax(-1)[clear], np.asarray(new)[clear])


def test_unknown_backbone_is_refused_in_one_line():
  with pytest.raises(forward_lib.UnsupportedBackboneError,
                     match=r"supports .*Gemma4Backbone.*, got object$"):
    forward_lib.make_forward(object())
