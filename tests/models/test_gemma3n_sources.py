"""Gemma 3n from a local preset folder, as a user points `--models` at one:
a tiny random Gemma 3n text model saved by keras-hub loads with its
weights, its engine logits are keras-hub's, and greedy generation is
keras-hub's own `generate` (tokens, and the cached decoding logits within
1e-5), stopping at `<end_of_turn>`.

The model here has no activation sparsity: Gemma 3n's Gaussian top-k
cuts units at mean + 1.645 std, a step at which the engine's float32
rounding differences from keras-hub (5e-7 of the largest logit without
sparsity) became 1.4e-5 on this prompt when a unit sat at the cut.
`test_salience_gemma4` covers the sparse layer on its own input."""

import keras_hub
import numpy as np
import pytest

import tiny_gemma4
from lit_gemma.models import lm as lm_lib
from lit_gemma.models import sources
from lit_gemma.models import keras_tasks

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
  folder = tmp_path_factory.mktemp("gemma3n")
  original = tiny_gemma4.build_gemma3n_causal_lm(sparsity=0.0)
  keras_tasks.save_preset(original, str(folder))
  return original, folder


def test_gemma3n_folder_loads_its_weights_and_tokenizer(saved):
  original, folder = saved
  causal_lm, source = sources.load_causal_lm(str(folder))
  assert isinstance(causal_lm, keras_hub.models.Gemma3nCausalLM)
  by_path = {w.path: w for w in original.backbone.weights}
  assert len(causal_lm.backbone.weights) == len(by_path)
  for weight in causal_lm.backbone.weights:
    np.testing.assert_array_equal(weight.numpy(), by_path[weight.path].numpy())
  tokenizer = keras_tasks.tokenizer_of(causal_lm)
  assert np.asarray(tokenizer("<end_of_turn>")).tolist() == [
      tokenizer.token_to_id("<end_of_turn>")]
  assert source.identity.startswith("preset:")


def test_gemma3n_folder_explains_and_generates_like_keras_hub(saved):
  original, folder = saved
  lm = lm_lib.GemmaLM.load(str(folder))
  assert lm.chat_format == "gemma"
  assert lm._sp.piece_to_id("<end_of_turn>") in lm.stop_ids  # pylint: disable=protected-access
  ids = lm.encode(PROMPT)
  assert ids[0] == 2 and len(ids) > 4
  want = tiny_gemma4.reference_logits("gemma3n", original.backbone, None,
                                      ids)
  got = lm.engine.logits(ids)
  assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()

  new = lm.generate_ids([ids], 8)[0]
  assert len(new) >= 3
  # keras-hub's own greedy path, fed token ids (its task has no
  # preprocessor: no TensorFlow): its cached decoding's logits and argmax.
  logits = lm.engine.logits(ids + new)[len(ids) - 1 : -1]
  cached = tiny_gemma4.cached_decode_logits(original, ids, new)
  assert np.abs(cached - logits).max() <= 1e-5 * np.abs(logits).max()
  top_two = np.sort(logits, axis=-1)[:, -2:]
  clear = top_two[:, 1] - top_two[:, 0] > 1e-4
  assert clear.sum() >= len(new) - 1
  assert np.array_equal(cached.argmax(-1)[clear], np.asarray(new)[clear])
