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
