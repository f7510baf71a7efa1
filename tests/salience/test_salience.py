"""The salience engine on tiny random Gemma, Gemma 2 and Gemma 3 models
loaded from preset folders: logits, gradients, kept residuals, buckets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import engine_checks

from lit_gemma.models import sources
from lit_gemma.models import keras_tasks
from lit_gemma.salience import engine as engine_lib

TEXT = ("The capital of France is Paris. Water is made of hydrogen and "
        "oxygen atoms. Bees dance to show where flowers are.")


@pytest.fixture(scope="module", params=["gemma", "gemma2", "gemma3"])
def loaded(request, tiny_presets):
  causal_lm, _ = sources.load_causal_lm(str(tiny_presets[request.param]))
  engine = engine_lib.SalienceEngine(causal_lm.backbone)
  ids = [2] + np.asarray(keras_tasks.tokenizer_of(causal_lm)(TEXT)).tolist()
  assert len(ids) > 3 * 8, "the text must cross the tiny sliding window"
  return causal_lm, engine, ids


_mask = engine_checks.mask


def _assert_same_maps(got, want):
  assert set(got) == set(want)
  for name in want:
    np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)


def _reference_loss(engine, ids, mask):
  """L(E) from the full logits at every position (no target gathering)."""
  forward, params = engine.forward, engine.forward.params()
  ids = jnp.asarray(ids)

  def loss(embeddings):
    hidden = forward.hidden(params, (embeddings[None],),
                            jnp.ones((1, len(ids)), "int32"))
    log_probs = jax.nn.log_softmax(forward.logits(params, hidden)[0], -1)
    nll = -jnp.take_along_axis(log_probs[:-1], ids[1:, None], -1)[:, 0]
    return jnp.sum(nll * mask[1:])

  (embeddings,) = forward.embed(params, ids)
  return loss, embeddings


def test_logits_equal_the_backbones_own(loaded):
  causal_lm, engine, ids = loaded
  backbone = causal_lm.backbone
  hidden = backbone({"token_ids": np.array([ids]),
                     "padding_mask": np.ones((1, len(ids)), "int32")})
  expected = np.asarray(backbone.token_embedding(hidden, reverse=True))[0]
  got = engine.logits(ids)
  assert got.shape == expected.shape
  assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_gradient_matches_central_finite_differences(loaded):
  _, engine, ids = loaded
  mask = _mask(len(ids), len(ids) - 6, len(ids))
  loss, embeddings = _reference_loss(engine, ids, mask)
  scores = engine.salience([ids], [mask])[0]
  grads = jax.grad(loss)(embeddings)
  rng = np.random.default_rng(0)
  step = 1e-2  # along a unit direction: small next to ||E|| (about 7)
  for _ in range(3):
    v = rng.normal(size=embeddings.shape)
    v = jnp.asarray(v / np.linalg.norm(v), jnp.float32)
    fd = (loss(embeddings + step * v) - loss(embeddings - step * v)) / (2 * step)
    error = abs(float(fd) - float(jnp.vdot(grads, v)))
    assert error <= 1e-3 * float(jnp.linalg.norm(grads) * jnp.linalg.norm(v))
  # The engine's methods follow from g and E.
  np.testing.assert_allclose(
      scores["grad_l2"], np.linalg.norm(grads, axis=-1), rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(
      scores["grad_dot_input"], np.sum(np.asarray(grads * embeddings), -1),
      rtol=1e-4, atol=1e-5)
  assert scores["grad_l2"].max() > 0


def test_span_change_from_kept_residuals_equals_fresh(loaded):
  _, engine, ids = loaded
  engine_checks.span_change_equals_fresh(engine, ids, _assert_same_maps)


def test_k_masks_in_one_call_equal_single_calls(loaded):
  _, engine, ids = loaded
  masks = [_mask(len(ids), 5, 9), _mask(len(ids), len(ids) - 3, len(ids)),
           _mask(len(ids), 20, 21)]
  engine_checks.k_masks_equal_single_calls(engine, ids, masks,
                                           _assert_same_maps)


def test_batch_equals_single_calls(loaded):
  _, engine, ids = loaded
  short = ids[:12]
  masks = [_mask(len(ids), len(ids) - 5, len(ids)), _mask(12, 9, 12)]
  engine.forget()
  batch = engine.salience([ids, short], masks)
  assert batch[1]["grad_l2"].shape == (12,)
  for text, mask, got in zip([ids, short], masks, batch):
    engine.forget()
    _assert_same_maps(got, engine.salience([text], [mask])[0])


def test_empty_and_bos_only_masks_give_zeros_not_nan(loaded):
  _, engine, ids = loaded
  bos_only = _mask(len(ids), 0, 1)
  nothing = np.zeros(len(ids), np.float32)
  for mask in (nothing, bos_only):
    result = engine.salience([ids], [mask])[0]
    for scores in result.values():
      assert scores.shape == (len(ids),)
      assert np.all(scores == 0)
  # Also inside a compiled call, next to a real mask.
  engine.forget()
  maps = engine.salience_for_masks(
      ids, [bos_only, _mask(len(ids), 4, 8), nothing])
  for k in (0, 2):
    assert all(np.all(s == 0) for s in maps[k].values())
  assert maps[1]["grad_l2"].max() > 0


def test_same_bucket_compiles_nothing(loaded):
  _, engine, ids = loaded
  engine_checks.same_bucket_compiles_nothing(engine, ids)


def test_mask_length_must_match_tokens(loaded):
  _, engine, ids = loaded
  with pytest.raises(ValueError, match="target_mask has 3 entries"):
    engine.salience([ids], [np.ones(3)])


def test_bfloat16_close_to_float32(tiny_presets):
  folder = str(tiny_presets["gemma3"])
  results = {}
  for dtype in ("float32", "bfloat16"):
    causal_lm, _ = sources.load_causal_lm(folder, dtype=dtype)
    engine = engine_lib.SalienceEngine(causal_lm.backbone)
    ids = [2] + np.asarray(keras_tasks.tokenizer_of(causal_lm)(TEXT)).tolist()
    mask = _mask(len(ids), len(ids) - 5, len(ids))
    results[dtype] = engine.salience([ids], [mask])[0]
  for name, exact in results["float32"].items():
    approx = results["bfloat16"][name]
    assert approx.dtype == np.float32
    error = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
    assert error <= 5e-2, (name, error)


def test_kept_forward_passes_respect_the_memory_budget(tiny_presets):
  causal_lm, _ = sources.load_causal_lm(str(tiny_presets["gemma"]))
  ids = [2] + np.asarray(keras_tasks.tokenizer_of(causal_lm)(TEXT)).tolist()
  texts = [ids[: len(ids) - k] for k in range(4)]
  masks = [_mask(len(t), len(t) - 2, len(t)) for t in texts]
  roomy = engine_lib.SalienceEngine(causal_lm.backbone, kept_texts=3)
  for text, mask in zip(texts, masks):
    roomy.salience([text], [mask])
  assert roomy.kept_texts == 3
  one_text = roomy.kept_bytes // 3
  tight = engine_lib.SalienceEngine(causal_lm.backbone,
                                    kept_bytes=2 * one_text + 1)
  # Room is made before a fresh call: what is kept while it runs plus what
  # it keeps stays in the budget (evicting only after the call would let
  # the peak reach the budget plus a whole call).
  kept_during_calls = []
  step = tight._salience_step

  def counted_step(*args):
    kept_during_calls.append(tight.kept_bytes)
    return step(*args)

  tight._salience_step = counted_step
  for text, mask in zip(texts, masks):
    tight.salience([text], [mask])
  assert tight.kept_texts == 2
  assert tight.kept_bytes <= 2 * one_text + 1
  assert len(kept_during_calls) == len(texts)
  assert max(kept_during_calls) + one_text <= 2 * one_text + 1
