"""Responses prepared before the server starts (serve/prepared.py): the
data table of a fresh server fills from them without generating, they are
exactly what that server would generate, and a changed setting or prompt
is generated again rather than served stale."""

import json

import pytest

from http_helpers import ok
from lit_gemma.serve import config as config_lib
from lit_gemma.models import lm as lm_lib
from lit_gemma.lit import model_groups
from lit_gemma.serve import prepared
from lit_gemma.lit import response_cache as response_cache_lib
from served import served as _served

ROWS = [
    {"prompt": "The capital of France is"},
    {"prompt": "Water is made of", "target": " hydrogen."},
    {"prompt": "Bees dance to show"},
    {"prompt": "One, two,"},
    {"prompt": "Q: why?", "response": " A given answer."},  # Never generated.
]


def _config(preset, data, **kw):
  # Minibatches of 2, as LIT hands them to the generation model: the
  # prepared calls must have the served calls' shapes.
  return config_lib.ServerConfig(**{
      "models": (("tiny", str(preset)),), "datasets": (("d", str(data)),),
      "max_length": 64, "max_new_tokens": 6, "generation_batch_size": 2,
      "warm_up": False} | kw)


def _write(path, rows):
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  return path


def _table(config, lm, cache):
  """The data table's responses, as a fresh server's page asks for them."""
  with _served(config, lms={"tiny": lm}, response_cache=cache) as s:
    ids = [ex["id"] for ex in ok(s.url, "/get_dataset", {}, dataset_name="d")]
    return [p["response"] for p in ok(
        s.url, "/get_preds", {"inputs": ids}, model="tiny", dataset_name="d",
        requested_types="GeneratedText")]


class _Counted:
  """Counts the prompts `lm` generates for."""

  def __init__(self, lm, monkeypatch):
    self.prompts = []
    real = lm.generate_ids

    def generate_ids(prompts, max_new_tokens):
      self.prompts.extend(prompts)
      return real(prompts, max_new_tokens)

    monkeypatch.setattr(lm, "generate_ids", generate_ids)


@pytest.fixture(scope="module")
def tiny(tiny_presets):
  return lm_lib.GemmaLM.load(str(tiny_presets["gemma3"]))


@pytest.fixture(scope="module")
def setup(tiny, tiny_presets, tmp_path_factory):
  """(config, prepared cache, what a server with no cache generates)."""
  tmp = tmp_path_factory.mktemp("prepared")
  config = _config(tiny_presets["gemma3"], _write(tmp / "d.jsonl", ROWS))
  fresh = _table(config, tiny, response_cache_lib.ResponseCache(
      tmp / "fresh.sqlite"))
  cache = response_cache_lib.ResponseCache(tmp / "prepared.sqlite")
  lines = []
  done = prepared.prepare(config, response_cache=cache,
                                    lms={"tiny": tiny}, report=lines.append)
  assert (done.examples, done.generated, done.refused, done.already) == (
      5, 4, 0, False), lines
  assert lines[-1].startswith("tiny/d: 5/5 responses (4 generated"), lines
  return config, cache, fresh


def test_a_fresh_server_answers_the_table_from_prepared_responses(
    setup, tiny, monkeypatch):
  config, cache, fresh = setup
  counted = _Counted(tiny, monkeypatch)
  assert _table(config, tiny, cache) == fresh  # What it would generate...
  assert counted.prompts == []  # ...without generating.
  assert fresh[-1] == " A given answer."


def test_preparing_again_loads_no_model(setup, monkeypatch):
  config, cache, _ = setup
  from lit_gemma.models import loading  # pylint: disable=g-import-not-at-top

  monkeypatch.setattr(loading, "load_models", None)  # Fails if called.
  lines = []
  done = prepared.prepare(config, response_cache=cache,
                                    report=lines.append)
  assert done.already and done.generated == 0
  assert lines == ["responses of 5 examples already prepared"]


@pytest.mark.parametrize("change", ["max_new_tokens", "precision", "prompt"])
def test_a_changed_setting_or_prompt_is_generated_again(
    setup, tiny, tiny_presets, tmp_path, monkeypatch, change):
  config, cache, _ = setup
  lm, rows = tiny, ROWS
  if change == "max_new_tokens":
    config = _config(tiny_presets["gemma3"], config.datasets[0][1],
                     max_new_tokens=5)
  elif change == "precision":
    lm = lm_lib.GemmaLM.load(str(tiny_presets["gemma3"]),
                             precision="bfloat16")
  else:
    rows = [dict(ROWS[0], prompt="The capital of Italy is"), *ROWS[1:]]
  counted = _Counted(lm, monkeypatch)
  model = model_groups.GenerationModel(
      lm, model_groups.GroupSettings.from_config(config, embeddings=False), cache)
  list(model.predict(rows))
  assert len(counted.prompts) == (1 if change == "prompt" else 4)
