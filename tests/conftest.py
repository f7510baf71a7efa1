"""Shared pytest fixtures for lit-gemma."""

import pytest

import lit_gemma  # noqa: F401  (selects the JAX backend before Keras loads)


@pytest.fixture(scope="session")
def embedded_lm():
  """The real embedded Gemma 3 270M as a keras-hub Gemma3CausalLM, loaded
  once per session (converted into the user's cache on first use)."""
  from lit_gemma import sources  # pylint: disable=g-import-not-at-top

  causal_lm, _ = sources.load_causal_lm(sources.EMBEDDED)
  return causal_lm


@pytest.fixture(scope="session")
def tiny_presets(tmp_path_factory):
  """Tiny random Gemma, Gemma 2 and Gemma 3 saved as keras-hub preset
  folders: {family: folder}."""
  import tiny_models  # pylint: disable=g-import-not-at-top

  root = tmp_path_factory.mktemp("tiny_presets")
  return {family: tiny_models.save_preset(family, root / family)
          for family in tiny_models.FAMILIES}
