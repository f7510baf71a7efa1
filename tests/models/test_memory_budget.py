"""One memory budget per mode sets --max_length and the salience cache; its
per-token figures are the engine's own."""

import dataclasses
import jax
import numpy as np
import pytest

from lit_gemma.serve import config as config_lib
from lit_gemma import errors
from lit_gemma.models import memory_budget as mb
from lit_gemma.models import memory_estimates as me
from lit_gemma import notebook
from lit_gemma.salience import engine as engine_lib
from lit_gemma.salience import long_text
import tiny_models


def test_bigger_budgets_allow_longer_prompts_within_the_budget():
  plans = [mb.plan(budget_gb=gb) for gb in (8, 12, 16, 24, 32, 64, 512)]
  lengths = [p.max_length for p in plans]
  assert lengths == sorted(lengths) and lengths[0] == mb.FLOOR
  assert lengths[-2] > 8192 and lengths[-1] == 32768  # the 270M's context
  size = mb.size_of("embedded")
  fixed = mb.RUNTIME_BYTES + me.weight_bytes(size, "float32")
  for p in plans[1:]:  # what the plan allows adds up to the budget
    peak = (fixed + (p.salience_cache_mb << 20) +
            mb.call_bytes(size, p.max_length, "float32") +
            mb.generation_bytes(size, p.max_length, "float32"))
    assert peak <= mb.HEADROOM * p.budget_gb * mb.GIB, p


def test_modes_and_model_sizes():
  local, notebook_plan, team = (mb.plan(m) for m in ("local", "notebook",
                                                     "team"))
  assert local.max_length == 1024 and 0 < local.salience_cache_mb < 2048
  assert notebook_plan.salience_cache_mb > local.salience_cache_mb
  assert team == dataclasses.replace(local, mode="team")  # deploy.sh's 8 GiB
  assert mb.size_of("gemma3_instruct_1b").name == "gemma3_1b"
  assert mb.size_of("gemma2_instruct_9b_en").name == "gemma2_9b"
  one_b = mb.plan(budget_gb=16, sources=("gemma3_instruct_1b",))
  assert one_b.max_length < mb.plan(budget_gb=16).max_length
  assert mb.plan(budget_gb=16, precision="bfloat16").max_length >= (
      mb.plan(budget_gb=16).max_length)


def test_config_takes_its_defaults_from_the_budget_unless_set():
  default = config_lib.ServerConfig()
  assert (default.max_length, default.salience_cache_mb) == (
      mb.plan().max_length, mb.plan().salience_cache_mb)
  big = config_lib.ServerConfig(memory_budget_gb=64)
  assert big.max_length == mb.plan(budget_gb=64).max_length > 8192
  assert big.salience_cache_mb == 2048
  explicit = config_lib.ServerConfig(memory_budget_gb=64, max_length=300,
                                     salience_cache_mb=7)
  assert (explicit.max_length, explicit.salience_cache_mb) == (300, 7)
  team = config_lib.ServerConfig(team_mode=True)
  assert team.salience_cache_mb == mb.plan("team").salience_cache_mb
  shown = notebook.config(memory_budget_gb=64)
  assert shown.max_length == big.max_length
  assert notebook.config().salience_cache_mb == (
      mb.plan("notebook").salience_cache_mb)
  for bad in (0, -2, "8", True):
    with pytest.raises(errors.ConfigError,
                       match=r"^--memory_budget_gb=.*: must be a number"):
      config_lib.ServerConfig(memory_budget_gb=bad)


def _residual_bytes(engine, length):
  """What one text's backward pass holds, from the engine's traced VJP."""
  ids = np.full((1, length), 3, np.int32)
  padding = np.ones((1, length), np.int32)
  targets = (np.ones((1, 1, 8), np.int32), np.ones((1, 1, 8), np.float32))
  jax.eval_shape(jax.jit(engine._batch_salience),  # pylint: disable=protected-access
                 engine.forward.params(), ids, padding, *targets)
  layout = engine._layouts.pop(length)  # pylint: disable=protected-access
  return sum(int(np.prod(s)) * np.dtype(d).itemsize
             for s, d in layout.activation_avals)


def test_estimates_match_what_the_engine_keeps(monkeypatch):
  """The plan's figures are within 15% of the engine's residuals on the
  long path (block inputs: linear in length) and within 10% on the short
  path (every layer's products and scores)."""
  backbone = tiny_models.build_causal_lm("gemma3").backbone
  c = backbone.get_config()
  size = me.Size("tiny", c["vocabulary_size"], c["hidden_dim"],
                 c["num_layers"], c["num_query_heads"],
                 c["num_key_value_heads"], c["head_dim"],
                 c["intermediate_dim"])
  engine = engine_lib.SalienceEngine(backbone)
  monkeypatch.setattr(long_text, "threshold", 1)
  long = {t: _residual_bytes(engine, t) for t in (64, 128)}
  monkeypatch.setattr(long_text, "threshold", 10**9)
  short = _residual_bytes(engine, 64)
  assert abs(long[128] - 2 * long[64]) <= 0.01 * long[128]  # linear
  for t, measured in long.items():
    estimate = me.activation_bytes(size, t, "float32", scores=False)
    assert abs(estimate - measured) <= 0.15 * measured, (t, estimate,
                                                         measured)
  estimate = me.activation_bytes(size, 64, "float32")  # scores included
  assert abs(estimate - short) <= 0.1 * short, (estimate, short)
  assert short > 10 * long[64]
