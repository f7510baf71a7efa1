"""The scoring model: target log-likelihoods and preference margins."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from lit_nlp import app as lit_app
from lit_nlp.lib import validation

from lit_gemma.lit import datasets
from lit_gemma.models import lm as lm_lib
from lit_gemma.lit.columns import scoring


@pytest.fixture(scope="module")
def tiny_lm():
  import tiny_models  # pylint: disable=g-import-not-at-top
  return lm_lib.GemmaLM(tiny_models.build_causal_lm("gemma3"))


def test_loglik_is_minus_the_salience_engines_loss(tiny_lm):
  prompt, target = "The capital of France is", " Paris, of course."
  logprobs = scoring.target_logprobs(tiny_lm, prompt, target)
  ids = tiny_lm.encode(prompt + target)
  start = len(tiny_lm.encode(prompt))
  assert len(logprobs) == len(ids) - start > 1
  engine = tiny_lm.engine
  params = engine.forward.params()
  token_ids = jnp.asarray([ids])
  positions = jnp.arange(start, len(ids))

  @jax.jit
  def engine_loss(params, token_ids):
    hidden = engine.forward.hidden(
        params, engine.forward.embed(params, token_ids),
        jnp.ones_like(token_ids, bool))[0]
    return engine._target_loss(  # pylint: disable=protected-access
        params, hidden, token_ids[0], positions, jnp.ones(len(positions)))

  loss = engine_loss(params, token_ids)
  np.testing.assert_allclose(logprobs.sum(), -float(loss), rtol=1e-4)
  # And keras-hub's own forward pass gives the same numbers.
  logits = np.asarray(tiny_lm.causal_lm(
      {"token_ids": token_ids, "padding_mask": jnp.ones_like(token_ids, bool)}
  ))[0].astype(np.float64)
  logits -= logits.max(-1, keepdims=True)
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  expected = log_probs[np.arange(start - 1, len(ids) - 1), ids[start:]]
  np.testing.assert_allclose(logprobs, expected, rtol=1e-4, atol=1e-4)


def test_preference_columns_through_lit_get_preds(tiny_lm, tmp_path):
  path = tmp_path / "pairs.jsonl"
  path.write_text("".join(json.dumps(r) + "\n" for r in [
      {"query": "Say hi.", "response_1": "Hi!", "response_2": "No.",
       "preferred": 2},
      {"query": "Count.", "response_1": "1 2 3", "response_2": "x",
       "preferred": 1}]))
  dataset = datasets.load(path)
  name = scoring.scoring_name("tiny")
  assert not name.startswith("_")
  model = scoring.ScoringModel(tiny_lm)
  app = lit_app.LitApp(models={name: model}, datasets={"pairs": dataset},
                       layouts={}, client_root=str(tmp_path))
  inputs = list(app._datasets["pairs"].indexed_examples)  # pylint: disable=protected-access
  preds = app._get_preds({"inputs": inputs}, model=name,  # pylint: disable=protected-access
                         requested_types="Scalar,CategoryLabel")
  validation.validate_model(model, dataset)
  assert all(set(p) == set(scoring.OUTPUTS) for p in preds)
  for chosen, rejected in ((preds[1], preds[0]), (preds[2], preds[3])):
    assert chosen["preference_margin"] == pytest.approx(
        rejected["preference_margin"])
    assert chosen["preference_margin"] == pytest.approx(
        chosen["target_mean_loglik"] - rejected["target_mean_loglik"])
    assert chosen["ranks_preferred"] == rejected["ranks_preferred"] == (
        1 if chosen["preference_margin"] > 0 else -1)
    assert chosen["target_loglik"] < 0 and chosen["target_tokens"] >= 1


def test_not_a_pair_is_kept_apart_from_disagreeing(tiny_lm):
  """0 means "no pair to rank", never "the model disagrees" (-1)."""
  model = scoring.ScoringModel(tiny_lm)
  same, chosen, rejected = model.predict([
      {"prompt": "Q: hi\nA:", "target": " Hello!", "paired_target": "hello",
       "is_preferred": "true"},
      {"prompt": "Q: hi\nA:", "target": " hello", "paired_target": " zzz",
       "is_preferred": "true"},
      {"prompt": "Q: hi\nA:", "target": " zzz", "paired_target": " hello",
       "is_preferred": "false"}])
  assert same["ranks_preferred"] == 0 and same["preference_margin"] == 0
  assert chosen["ranks_preferred"] == rejected["ranks_preferred"] != 0
  assert chosen["ranks_preferred"] == (
      1 if chosen["preference_margin"] > 0 else -1)


def test_sft_and_prompt_only_rows(tiny_lm):
  model = scoring.ScoringModel(tiny_lm)
  sft, empty = model.predict([{"prompt": "Q: hi\nA:", "target": " hello"},
                              {"prompt": "Q: hi\nA:", "target": ""}])
  assert sft["ranks_preferred"] == 0 and sft["preference_margin"] == 0
  assert sft["target_mean_loglik"] == pytest.approx(
      sft["target_loglik"] / sft["target_tokens"])
  assert empty["target_tokens"] == 0 and empty["target_loglik"] == 0
