"""Contrastive gradient maps and integrated gradients on tiny random
Gemmas: the contrast is g_target - g_foil, checked against gradients taken
through keras-hub's own backbone; integrated gradients add up to the
log-likelihood gained over the padded prompt."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from backbone_reference import backbone_contrast_gradient
from lit_gemma import explain
from lit_gemma.explain import api
from lit_gemma.explain import gradient_maps

# Every token distinct (the tiny vocabulary splits most words into
# letters), so a gradient with respect to the embedding table is the
# gradient of one position's row.
PROMPT, TARGET, FOIL = "Step by", " 19", " 12"



def _backbone_contrast_gradient(lm):
  """d[L(target) - L(foil)]/dE for the prompt's rows, through keras-hub's
  functional backbone on token ids (not the engine's forward pass)."""
  ids_t, ids_f = lm.encode(PROMPT + TARGET), lm.encode(PROMPT + FOIL)
  first = len(lm.encode(PROMPT))
  assert len(set(ids_t) | set(ids_f)) == len(ids_t) + len(ids_f) - first
  mask_t = np.r_[np.zeros(first), np.ones(len(ids_t) - first)]
  mask_f = np.r_[np.zeros(first), np.ones(len(ids_f) - first)]
  grads, rows = backbone_contrast_gradient(lm.causal_lm, ids_t, mask_t,
                                           ids_f, mask_f)
  return grads[1:first], rows[1:first]


def test_contrastive_gradient_is_g_target_minus_g_foil(lm):
  contrast = explain.explain(lm, PROMPT, TARGET, foil=FOIL)
  target = explain.explain(lm, PROMPT, TARGET)
  foil = explain.explain(lm, PROMPT, FOIL)
  n = contrast.prompt_tokens
  assert contrast.foil == FOIL and n == 4
  # Contrastive grad_dot_input is the difference of the two maps.
  difference = (target.scores["grad_dot_input"][:n]
                - foil.scores["grad_dot_input"][:n])
  scale = max(1.0, float(np.abs(difference).max()))
  np.testing.assert_allclose(contrast.scores["grad_dot_input"][:n],
                             difference, rtol=0, atol=1e-6 * scale)
  # The target's own tokens do not line up with the foil's: 0.
  assert not contrast.scores["grad_l2"][n:].any()
  # The rows themselves: one call on both texts, or each text alone.
  ids = [lm.encode(PROMPT + TARGET), lm.encode(PROMPT + FOIL)]
  masks = [np.r_[np.zeros(n + 1), np.ones(len(i) - n - 1)] for i in ids]
  both = lm.path_gradients().gradients(ids, masks)
  alone = [lm.path_gradients().gradients([i], [m])[0]
           for i, m in zip(ids, masks)]
  g = both[0].grads[0][1:n + 1] - both[1].grads[0][1:n + 1]
  np.testing.assert_allclose(
      g, alone[0].grads[0][1:n + 1] - alone[1].grads[0][1:n + 1],
      rtol=0, atol=1e-6 * max(1.0, float(np.abs(g).max())))
  # ... and both equal the gradient of L(target) - L(foil) taken through
  # keras-hub's backbone, within float32's precision.
  reference, rows = _backbone_contrast_gradient(lm)
  np.testing.assert_allclose(g, reference, rtol=1e-5,
                             atol=1e-5 * np.abs(reference).max())
  np.testing.assert_allclose(contrast.scores["grad_l2"][:n],
                             np.linalg.norm(reference, axis=-1), rtol=1e-5)
  np.testing.assert_allclose(contrast.scores["grad_dot_input"][:n],
                             (reference * rows).sum(-1), rtol=1e-5,
                             atol=1e-5)


def test_integrated_gradients_add_up_to_the_gain_over_the_baseline(lm):
  """Completeness within 0.1% at 64 quadrature nodes, closer than at 16
  (the default; the real model's gap at 16 is in the benchmark)."""
  prompt, target = "The capital of France is", " Paris."
  plain = api.skeleton(lm, explain.Item(prompt, target))
  gaps = {}
  for steps in (16, 64):
    scores, completeness = gradient_maps.integrated_gradients(lm, plain,
                                                              steps)
    gaps[steps] = abs(completeness.gap) / abs(completeness.expected)
    assert not scores[plain.prompt_tokens:].any()  # only the prompt moves
  assert gaps[64] < 1e-3 and gaps[64] < gaps[16], gaps
  # The expected total, independently: the target's log-likelihood after
  # the prompt minus after the prompt's tokens replaced by pad tokens.
  ids = lm.encode(prompt + target)
  first = len(lm.encode(prompt))
  padded = [ids[0]] + [lm.pad_id] * (first - 1) + ids[first:]
  real = lm.engine.logits(ids)
  pads = lm.engine.logits(padded)

  def loglik(logits):
    lp = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), -1)
    return float(sum(lp[t - 1, ids[t]] for t in range(first, len(ids))))

  assert completeness.expected == pytest.approx(
      loglik(real) - loglik(pads), abs=1e-4)
  # Contrastive: the same path for both texts, so the difference of maps.
  contrast = dataclasses.replace(plain, foil=" Rome.")
  c_scores, c_complete = gradient_maps.integrated_gradients(lm, contrast, 64)
  foil = api.skeleton(lm, explain.Item(prompt, " Rome."))
  f_scores, f_complete = gradient_maps.integrated_gradients(lm, foil, 64)
  p = plain.prompt_tokens
  np.testing.assert_allclose(c_scores[:p], scores[:p] - f_scores[:p],
                             atol=1e-5)
  assert c_complete.expected == pytest.approx(
      completeness.expected - f_complete.expected, abs=1e-6)
  assert abs(c_complete.gap) < 1e-3 * (abs(completeness.expected)
                                       + abs(f_complete.expected))


def test_every_method_can_be_contrastive_and_foils_are_checked(lm):
  exp = explain.explain(lm, "The capital of France is", " Paris.",
                        foil=" Rome.", methods=["grad_l2", "loo_word",
                                                "integrated_gradients"])
  assert set(exp.scores) == {"grad_l2", "loo_word", "integrated_gradients"}
  assert "rather than ' Rome.'" in exp.caption("word", "loo_word")
  with pytest.raises(explain.ExplainError, match="foil equals the target"):
    explain.explain(lm, PROMPT, TARGET, foil=TARGET)
  with pytest.raises(explain.ExplainError, match="word boundary"):
    explain.explain(lm, "Step by 1", " 12", foil="9")  # "▁1" + "9": "▁19"
