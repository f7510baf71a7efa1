"""A tiny random Gemma 3, loaded once per test module of explain/."""

import pytest


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
  import tiny_models  # pylint: disable=g-import-not-at-top
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  folder = tiny_models.save_preset("gemma3",
                                   tmp_path_factory.mktemp("g3") / "g3")
  return lm_lib.GemmaLM.load(str(folder), max_batch=4)
