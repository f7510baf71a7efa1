"""The model layer (models/loading.py): each distinct source loads once, and each
setting reaches the part it names."""

import numpy as np
import pytest

from lit_gemma import errors
from lit_gemma.models import loading
from lit_gemma.models import lm as lm_lib
from lit_gemma.lit import model_groups
from lit_gemma.lit import response_cache as response_cache_lib


def test_a_source_served_under_two_names_loads_once(tiny_presets):
  folder = str(tiny_presets["gemma"])
  loaded = loading.load_models((("a", folder), ("b", folder)))
  assert loaded["a"] is loaded["b"]
  assert list(loaded) == ["a", "b"]


def test_settings_reach_the_engine_and_generation(tiny_presets):
  settings = loading.ModelSettings(salience_cache_mb=3, batch_size=2,
                                   generation_batch_size=5)
  lm = loading.load_model(str(tiny_presets["gemma3"]), settings)
  assert lm.engine.max_batch == 2
  assert lm.generation_rows == 5
  group = model_groups.model_group("t", lm, model_groups.GroupSettings(
      batch_size=2, generation_batch_size=5))
  assert group["t"].max_minibatch_size() == 5
  assert group["_t_salience"].max_minibatch_size() == 2
  # Six prompts, five rows a call: two calls, every prompt answered.
  texts = lm.generate(["a b", "c", "the", "d e f", "g", "h i"], 2)
  assert len(texts) == 6


def test_a_model_built_in_memory_writes_nothing_to_the_disk_cache(
    tiny_presets, tmp_path):
  loaded = lm_lib.GemmaLM.load(str(tiny_presets["gemma"]))
  in_memory = lm_lib.GemmaLM(loaded.causal_lm)
  assert in_memory.identity is None and loaded.identity
  cache = response_cache_lib.ResponseCache(tmp_path / "responses.sqlite")
  group = model_groups.model_group("m", in_memory, model_groups.GroupSettings(
      max_length=32, max_new_tokens=3), cache)
  group["m"].predict_minibatch([{"prompt": "Bees dance"}])
  assert cache.get_many("m", ["Bees dance"], {}) == [None]
  with cache._connect() as db:  # pylint: disable=protected-access
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0


def test_a_span_explains_what_the_same_mask_explains(tiny_presets):
  lm = loading.load_model(str(tiny_presets["gemma"]))
  by_span = lm.salience("Water is", " made of oxygen", span=(1, 3))
  mask = [0.0] * len(by_span.tokens)
  mask[by_span.prompt_tokens + 1 : by_span.prompt_tokens + 3] = [1.0, 1.0]
  assert by_span.target_mask.tolist() == mask
  by_mask = lm.salience("Water is", " made of oxygen", target_mask=mask)
  for method, scores in by_span.scores.items():  # the second: span step
    np.testing.assert_allclose(scores, by_mask.scores[method], rtol=1e-5)
  whole = lm.salience("Water is", " made of oxygen")
  assert whole.target_mask[whole.prompt_tokens:].all()
  assert not whole.target_mask[:whole.prompt_tokens].any()


@pytest.mark.parametrize("span", [(0, 99), (2, 1), (-1, 2), "made"])
def test_a_span_outside_the_target_is_refused(tiny_presets, span):
  lm = loading.load_model(str(tiny_presets["gemma"]))
  with pytest.raises(errors.RequestError,
                     match="is not a token range of the target"):
    lm.salience("Water is", " made of", span=span)
