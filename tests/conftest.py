"""Shared pytest fixtures for lit-gemma."""

import pathlib

import pytest

import lit_gemma  # noqa: F401  (selects the JAX backend before Keras loads)


@pytest.fixture(scope="session")
def embedded_lm():
  """The real embedded Gemma 3 270M as a keras-hub Gemma3CausalLM, loaded
  once per session (converted into the user's cache on first use)."""
  from lit_gemma.models import sources  # pylint: disable=g-import-not-at-top

  causal_lm, _ = sources.load_causal_lm(sources.EMBEDDED)
  return causal_lm


@pytest.fixture(scope="session")
def embedded_gemma(embedded_lm):
  """A GemmaLM over the real embedded model with default settings, shared
  by every test module: its compiled programs are made once a session."""
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  return lm_lib.GemmaLM(embedded_lm)


@pytest.fixture(scope="session")
def tiny_presets(tmp_path_factory):
  """Tiny random Gemma, Gemma 2 and Gemma 3 saved as keras-hub preset
  folders: {family: folder}."""
  import tiny_models  # pylint: disable=g-import-not-at-top

  root = tmp_path_factory.mktemp("tiny_presets")
  return {family: tiny_models.save_preset(family, root / family)
          for family in tiny_models.FAMILIES}


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
  """A tiny random Gemma 3 saved as a keras-hub preset folder."""
  import tiny_models  # pylint: disable=g-import-not-at-top

  return tiny_models.save_preset(
      "gemma3", tmp_path_factory.mktemp("tiny") / "gemma3")


@pytest.fixture(scope="module")
def tiny_lm(tiny_preset):
  """A GemmaLM over `tiny_preset`."""
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  return lm_lib.GemmaLM.load(str(tiny_preset))


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory):
  """served.PROMPTS as a JSONL prompt file."""
  import served  # pylint: disable=g-import-not-at-top

  return served.write_jsonl(
      tmp_path_factory.mktemp("data") / "prompts.jsonl", served.PROMPTS)


@pytest.fixture
def temp_cache(tmp_path, monkeypatch) -> pathlib.Path:
  """An empty LIT_GEMMA_CACHE for this test."""
  from lit_gemma import paths  # pylint: disable=g-import-not-at-top

  cache = tmp_path / "cache"
  monkeypatch.setenv(paths.CACHE_ENV, str(cache))
  return cache


@pytest.fixture(scope="session")
def planted_checkpoints(tmp_path_factory):
  """(before, after): a tiny random Gemma 3 preset folder and the same
  model tuned (DPO) to prefer alignment_data.PROBES' own targets to a
  nonsense answer, except on the PLANTED probe, where the nonsense is
  preferred on purpose (a planted regression); saved by `tune`'s saver."""
  import alignment_data  # pylint: disable=g-import-not-at-top
  import tiny_models  # pylint: disable=g-import-not-at-top
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top
  from lit_gemma.training import batches, lora, trainer  # pylint: disable=g-import-not-at-top

  root = tmp_path_factory.mktemp("checkpoints")
  before = tiny_models.save_preset("gemma3", root / "before")
  lm = lm_lib.GemmaLM.load(str(before))
  nonsense = " zebra zebra zebra."
  pairs = [batches.Preference(p["prompt"], nonsense, p["target"])
           if i == alignment_data.PLANTED else
           batches.Preference(p["prompt"], p["target"], nonsense)
           for i, p in enumerate(alignment_data.PROBES)]
  trainer.tune(lm, pairs, [], trainer.Settings(
      epochs=6, batch_size=4, learning_rate=1e-2), preference=True,
               progress=False)
  return before, pathlib.Path(lora.save(lm.causal_lm, root / "after"))
