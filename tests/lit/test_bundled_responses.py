"""The embedded model's responses to the bundled sets, shipped in
lit_gemma/bundled_sets/responses.json (scripts/bundled_responses.py): a
fresh clone's `prepare` and first visit generate none of them, and they are
what the model gives (a minibatch regenerated the way `prepare` generates
it equals the file's)."""

import json

import pytest

from lit_gemma import fields
from lit_gemma.lit import response_cache as cache_lib
from lit_gemma.serve import served_datasets
from lit_gemma.serve import config as config_lib

pytestmark = pytest.mark.real_model


def _shipped() -> dict:
  return json.loads(cache_lib.BUNDLED.read_text("utf-8"))


@pytest.fixture(scope="module")
def gemma(embedded_lm):
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top
  from lit_gemma.models import sources  # pylint: disable=g-import-not-at-top
  return lm_lib.GemmaLM(embedded_lm, sources.resolve(sources.EMBEDDED))


def _generation_model(gemma, cache=None):
  from lit_gemma.lit import model_groups  # pylint: disable=g-import-not-at-top
  return model_groups.GenerationModel(
      gemma, model_groups.GroupSettings.from_config(
          config_lib.ServerConfig(), embeddings=False), cache)


def test_a_fresh_prepare_of_the_bundled_sets_generates_nothing(
    gemma, temp_cache):
  from lit_gemma.serve import prepared  # pylint: disable=g-import-not-at-top
  shipped = _shipped()
  assert shipped["model"] == gemma.identity
  assert shipped["settings"] == _generation_model(gemma).generation_settings()
  lines = []
  done = prepared.prepare(config_lib.ServerConfig(), lms={"gemma": gemma},
                          report=lines.append)
  assert done.examples == 172 and not done.already, lines
  assert done.generated == 0, lines  # Every response was shipped.
  # Exactly the prompts the server answers: none missing, none stale.
  prompts = {ex[fields.PROMPT] for ds in served_datasets.load_datasets(
      config_lib.ServerConfig()).values() for ex in ds.examples
             if not ex.get(fields.RESPONSE)}
  assert set(shipped["responses"]) == prompts


@pytest.mark.slow
def test_a_regenerated_minibatch_equals_the_shipped_responses(gemma):
  """The safety set's 12 chat prompts in one call, as `prepare` and the
  page's request generate them."""
  config = config_lib.ServerConfig()
  examples = served_datasets.load_datasets(config)["safety_probes"].examples
  model = _generation_model(gemma)
  assert len(examples) <= model.max_minibatch_size()
  regenerated = model.predict_minibatch(list(examples))
  shipped = _shipped()["responses"]
  for ex, out in zip(examples, regenerated):
    assert out[fields.RESPONSE] == shipped[ex[fields.PROMPT]], ex
