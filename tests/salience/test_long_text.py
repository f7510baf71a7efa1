"""The long-text path (no kept score matrices, no kept forward pass, target
projection in chunks) gives the short path's salience on tiny models."""

import numpy as np
import pytest

from lit_gemma.salience import buckets
from lit_gemma.salience import engine as engine_lib
from lit_gemma.salience import long_text
import tiny_gemma4
import tiny_models


def _backbone(name):
  if name in ("gemma2", "gemma3"):
    return tiny_models.build_causal_lm(name).backbone, None
  return tiny_gemma4.build(name)


def _maps(backbone, cap, ids, masks, threshold, chunk, monkeypatch):
  monkeypatch.setattr(long_text, "threshold", threshold)
  monkeypatch.setattr(long_text, "TARGET_CHUNK", chunk)
  engine = engine_lib.SalienceEngine(backbone, final_logit_cap=cap)
  maps = [engine.salience([ids], [m])[0] for m in masks]
  return maps, engine.kept_texts


@pytest.mark.parametrize("name", ["gemma3", "dense_ple"])
def test_long_path_equals_short_path(name, monkeypatch):
  backbone, cap = _backbone(name)
  rng = np.random.default_rng(0)
  ids = [2] + list(rng.integers(3, 60, size=39))
  wide = np.zeros(40, np.float32)
  wide[12:] = 1  # 28 targets: several chunks of 8 on the long path
  narrow = np.zeros(40, np.float32)
  narrow[30:34] = 1  # a span change on the same text
  short, kept_short = _maps(backbone, cap, ids, [wide, narrow], 10**9, 512,
                            monkeypatch)
  long, kept_long = _maps(backbone, cap, ids, [wide, narrow], 1, 8,
                          monkeypatch)
  assert (kept_short, kept_long) == (1, 0)  # long texts keep nothing
  for a, b in zip(short, long):
    for method, scores in a.items():
      assert np.abs(scores).sum() > 0
      error = np.linalg.norm(b[method] - scores) / np.linalg.norm(scores)
      assert error < 1e-5, (name, method, error)


def test_long_buckets_step_by_2048():
  assert buckets.sequence_bucket(8192) == 8192
  assert buckets.sequence_bucket(8193) == 10240
  assert buckets.sequence_bucket(30000) == 30720


def test_long_path_peak_holds_one_layers_scores(monkeypatch):
  """The compiled long-path program's working memory is a few of one
  layer's [heads, T, T] score matrices, not every layer's: XLA's CPU
  backend merged plain rematerialization back into the forward pass."""
  backbone, _ = _backbone("gemma3")
  monkeypatch.setattr(long_text, "threshold", 1)
  engine = engine_lib.SalienceEngine(backbone)
  length = 1024
  ids = np.full((1, length), 3, np.int32)
  compiled = engine._salience_step.lower(  # pylint: disable=protected-access
      engine.forward.params(), ids, np.ones_like(ids),
      np.ones((1, 1, 8), np.int32), np.ones((1, 1, 8), np.float32)).compile()
  one_layer = backbone.num_query_heads * length * length * 4
  layers = backbone.num_layers
  temp = compiled.memory_analysis().temp_size_in_bytes
  assert temp < 5 * one_layer < layers * one_layer, (temp, one_layer, layers)
