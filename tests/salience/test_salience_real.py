"""Salience values on the real embedded Gemma 3 270M, checked against an
independent gradient taken through keras-hub's own functional backbone."""

import numpy as np
import pytest

from backbone_reference import backbone_gradient

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def gemma(embedded_gemma):
  return embedded_gemma


def test_salience_equals_the_backbones_own_gradient(gemma, embedded_lm):
  ids = gemma.encode("The capital of France is Paris, and the capital of "
                     "Italy is Rome.")
  assert len(set(ids)) < len(ids)  # "capital", "of", "is" repeat
  mask = np.zeros(len(ids), np.float32)
  mask[-4:] = 1
  ours = gemma.engine.salience([ids], [mask])[0]
  table_rows_grad, embeddings = backbone_gradient(embedded_lm, ids, mask)
  # The table gradient sums g over repeated tokens: compare per token id.
  for token in set(ids):
    where = [i for i, t in enumerate(ids) if t == token]
    if len(where) == 1:
      t = where[0]
      g = table_rows_grad[t]
      np.testing.assert_allclose(ours["grad_l2"][t], np.linalg.norm(g),
                                 rtol=2e-4, atol=1e-6)
      np.testing.assert_allclose(ours["grad_dot_input"][t],
                                 g @ embeddings[t], rtol=2e-3, atol=1e-5)
    else:
      summed = sum(ours["grad_dot_input"][t] for t in where)
      np.testing.assert_allclose(summed, table_rows_grad[where[0]]
                                 @ embeddings[where[0]], rtol=2e-3, atol=1e-5)


def test_the_answer_leans_on_the_related_word(gemma):
  """What a user sees: for " oxygen" after "Water is made of hydrogen and",
  the prompt word with the most salience, by either method, is "hydrogen"
  (BOS, an attention sink, aside)."""
  prompt, target = "Water is made of hydrogen and", " oxygen"
  ids = gemma.encode(prompt + target)
  tokens = gemma.token_strings(ids)
  n_prompt = len(gemma.encode(prompt))
  mask = np.zeros(len(ids), np.float32)
  mask[n_prompt:] = 1
  scores = gemma.engine.salience([ids], [mask])[0]
  for name in ("grad_l2", "grad_dot_input"):
    words = np.abs(scores[name][1:n_prompt])
    assert tokens[1 + int(np.argmax(words))] == "▁hydrogen", name
