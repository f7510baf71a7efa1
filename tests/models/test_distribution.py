"""--distribution: parsing, one-line refusals, and model-parallel salience and
generation on two simulated devices matching one device."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from lit_gemma.models import distribution
from lit_gemma import errors
from lit_gemma.models import sharding
import repo

ROOT = repo.ROOT


@pytest.mark.parametrize("text, want", [
    ("none", distribution.Distribution()),
    ("model_parallel", distribution.Distribution("model_parallel", None)),
    ("model_parallel:4", distribution.Distribution("model_parallel", 4)),
])
def test_parse(text, want):
  assert distribution.parse(text) == want
  assert str(distribution.parse(text)) == text


@pytest.mark.parametrize("text, words", [
    ("data_parallel", "expected 'none', 'model_parallel'"),
    ("model_parallel:0", "at least 1"),
    ("model_parallel:two", "whole number"),
])
def test_bad_values_are_one_line(text, words):
  with pytest.raises(errors.ConfigError) as caught:
    distribution.parse(text)
  message = str(caught.value)
  assert message.startswith(f"--distribution={text!r}") and words in message
  assert "\n" not in message


@pytest.mark.parametrize("n, devices, words", [
    (8, 4, "asks for 8 devices but JAX sees 4"),
    (3, 4, "3 does not divide the 4 devices"),
])
def test_mesh_must_fit_the_devices(n, devices, words):
  with pytest.raises(errors.ConfigError, match=words):
    distribution.mesh_size(distribution.Distribution("model_parallel", n),
                           devices)
  assert distribution.mesh_size(distribution.Distribution(
      "model_parallel", None), devices) == devices


def test_rules_of_different_families_never_overlap():
  import re  # pylint: disable=g-import-not-at-top

  rules = sharding.all_rules()
  paths = ["token_embedding/embeddings", "decoder_block_3/attention/query/"
           "kernel", "decoder_block_0/moe_expert_bank/gate_proj",
           "text_model/decoder_block_1/mlp/gate_proj/kernel",
           "text_model/embed_tokens/embedding/embeddings"]
  for path in paths:
    assert sum(bool(re.fullmatch(p, path)) for p, _ in rules) == 1, path
  assert not any(re.fullmatch(p, "decoder_block_0/attention/key/kernel")
                 for p, _ in rules)


def test_two_devices_match_one(tiny_presets, tmp_path):
  """Gemma 2, Gemma 3 (one KV head) and a Gemma 4 MoE, each loaded on one
  device and then split over two: the feed-forward kernels really are
  split, K/V never is, salience agrees to 1e-5 (relative L2) and greedy
  tokens are the same."""
  env = dict(os.environ,
             XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
  done = subprocess.run(
      [sys.executable, str(ROOT / "tests" / "support" / "distribution_check.py"),
       str(tmp_path), str(tiny_presets["gemma2"]),
       str(tiny_presets["gemma3"])],
      env=env, capture_output=True, text=True, timeout=600, check=False)
  lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
  assert done.returncode == 0 and lines, done.stderr[-3000:]
  report = json.loads(lines[-1][len("RESULT "):])
  assert report["devices"] == 2
  assert set(report) == {"devices", "gemma2", "gemma3", "gemma4_moe"}
  for name in ("gemma2", "gemma3", "gemma4_moe"):
    found = report[name]
    assert found["ffw_devices"] == 2 and not found["ffw_replicated"], name
    assert "token_embedding/embeddings" in found["sharded"], name
    assert found["kv_sharded"] == [], name
    assert found["maps"] >= 4, name
    assert found["max_relative_l2"] < 1e-5, (name, found["max_relative_l2"])
    assert all(found["same_lengths"]), name
    assert found["untied_token_differences"] == [], name
  assert any("moe_expert_bank" in p for p in report["gemma4_moe"]["sharded"])


def test_every_front_end_takes_the_setting():
  from absl import flags  # pylint: disable=g-import-not-at-top

  from lit_gemma.serve import config_flags  # pylint: disable=g-import-not-at-top
  from lit_gemma.serve import config as config_lib  # pylint: disable=g-import-not-at-top

  config_flags.define_flags()  # As launch.py does (once per process).
  try:
    flags.FLAGS(["launch.py", "--distribution=model_parallel:2"])
    config = config_flags.config_from_flags()
  finally:
    flags.FLAGS.unparse_flags()
  assert config.model_settings.distribution == "model_parallel:2"
  assert config_lib.ServerConfig().model_settings.distribution == "none"
  with pytest.raises(errors.ConfigError,
                     match=r"^--distribution='tpu': expected"):
    config_lib.ServerConfig(distribution="tpu")


def test_cli_refuses_more_devices_than_there_are_in_one_line(capsys):
  from lit_gemma.cli import main  # pylint: disable=g-import-not-at-top

  code = main.main(["explain", "--model", "embedded", "--prompt", "Hi",
                   "--target", " there", "--distribution", "model_parallel:64"])
  err = capsys.readouterr().err.strip()
  assert code != 0
  assert err.endswith("--distribution=model_parallel:64: asks for 64 devices"
                      " but JAX sees 1") and "\n" not in err
