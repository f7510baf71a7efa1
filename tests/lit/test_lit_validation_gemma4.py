"""LIT's own output validation of the model group (generation, tokenizer,
salience) over the tiny Gemma 4 mixture-of-experts and K=V-global models
and the tiny Gemma 3n; `test_gemma4_serving` validates the dense Gemma 4
as served. Marked slow: about 2.5 minutes a model on a loaded 2-core
machine (generation and salience compile for each); run with -m slow."""

import numpy as np
import pytest
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.api import types as lit_types
from lit_nlp.lib import validation

import tiny_gemma4
from lit_gemma.models import lm as lm_lib
from lit_gemma.lit import model_groups
from lit_gemma.lit import response_cache as response_cache_lib

EXAMPLES = [
    {"prompt": "The capital of France is", "target": " Paris."},
    {"prompt": "", "target": "Bees dance"},
]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["moe", "kv_global", "gemma3n"])
def test_lit_validates_the_model_group(name, tmp_path):
  causal_lm = (tiny_gemma4.build_gemma3n_causal_lm() if name == "gemma3n"
               else tiny_gemma4.build_gemma4_causal_lm(name))
  lm = lm_lib.GemmaLM(causal_lm)
  settings = model_groups.GroupSettings(max_length=48, max_new_tokens=3,
                                  batch_size=2, embeddings=False)
  group = model_groups.model_group(
      name, lm, settings,
      response_cache_lib.ResponseCache(tmp_path / "responses.sqlite"))
  spec = {"prompt": lit_types.TextSegment(),
          "target": lit_types.TextSegment(required=False)}
  dataset = lit_dataset.Dataset(spec=spec, examples=list(EXAMPLES))
  for model in group.values():
    validation.validate_model(model, dataset)
  (result,) = group[model_groups.salience_name(name)].predict(EXAMPLES[:1])
  scores = np.asarray(result["grad_l2"])
  assert len(scores) == len(result["tokens"]) and np.isfinite(scores).all()
  assert scores.max() > 0
