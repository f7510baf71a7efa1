"""`lit-gemma tune` on a tiny random Gemma 3: supervised tuning lowers the
loss on held-out rows of a learnable set, the saved folder is the tuned
model (logits within 1e-5) and loads as a source, DPO raises the held-out
preference margin, and contamination is refused in one line (or listed
as a warning when allowed)."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

import alignment_data
from lit_gemma.models import lm as lm_lib

FAST = ["--epochs", "6", "--learning-rate", "1e-2", "--batch-size", "4"]


run = alignment_data.run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  root = tmp_path_factory.mktemp("tune")
  sft = alignment_data.sft_rows()
  # A planted leak: the first held-out row's prompt is also trained on.
  sft.append(dict(sft[-alignment_data.HELD_OUT], split="dev"))
  return {"sft": alignment_data.write_jsonl(root / "sft.jsonl", sft),
          "pref": alignment_data.write_jsonl(
              root / "pref.jsonl", alignment_data.preference_rows()),
          "root": root}


@pytest.fixture(scope="module")
def sft_run(tiny_preset, files):
  """The SFT run, in process: (the tuned in-memory model, its folder,
  stdout, stderr)."""
  lm = lm_lib.GemmaLM.load(str(tiny_preset))
  out = files["root"] / "sft_out"
  status, stdout, stderr = run(
      ["tune", "--dataset", str(files["sft"]), "--out", str(out),
       "--contamination", "text", "--allow_contamination", *FAST], lm=lm)
  assert status == 0, stderr
  return lm, out, stdout, stderr


def test_sft_lowers_the_held_out_loss(sft_run):
  _, out, stdout, _ = sft_run
  summary = json.loads((out / "lit_gemma_tuning.json").read_text())
  assert summary["held_out"] == alignment_data.HELD_OUT
  assert summary["train"] == len(alignment_data.WORDS) + 1 - 3
  before = summary["held_out_before"]["loss"]
  after = summary["held_out_after"]["loss"]
  assert after < before - 0.3, summary
  assert f"held-out loss {before:.4f} -> {after:.4f}" in stdout
  assert len(summary["losses"]) == summary["steps"] == 6 * 3


def test_allowed_contamination_is_listed(sft_run, files):
  *_, stderr = sft_run
  [warning] = [l for l in stderr.splitlines() if "warning" in l]
  assert f"{files['sft']}:{len(alignment_data.WORDS) + 1}" in warning
  assert f"evaluation item at {files['sft']}:10" in warning


def test_saved_folder_is_the_tuned_model(sft_run, tiny_preset):
  lm, out, _, _ = sft_run
  loaded = lm_lib.GemmaLM.load(str(out))  # a plain preset source
  start = lm_lib.GemmaLM.load(str(tiny_preset))
  ids = jnp.asarray([lm.encode("Q: bees\nA: bees bees. Q: water\nA:")])
  inputs = {"token_ids": ids, "padding_mask": jnp.ones_like(ids, bool)}
  tuned = np.asarray(lm.causal_lm(inputs))
  np.testing.assert_allclose(np.asarray(loaded.causal_lm(inputs)), tuned,
                             rtol=1e-5, atol=1e-5 * np.abs(tuned).max())
  assert np.abs(np.asarray(start.causal_lm(inputs)) - tuned).max() > 1e-2
  # The salience engine serves its weights (no LoRA layers in it).
  assert not any("lora" in v.path for v in loaded.causal_lm.weights)
  assert loaded.score("Q: bees\nA:", " bees bees.") == pytest.approx(
      lm.score("Q: bees\nA:", " bees bees."), rel=1e-5)


def test_dpo_raises_the_held_out_margin(tiny_preset, files):
  out = files["root"] / "dpo_out"
  status, stdout, stderr = run(
      ["tune", "--dataset", str(files["pref"]), "--preference", "--out",
       str(out), "--model", str(tiny_preset), *FAST])
  assert status == 0, stderr
  summary = json.loads((out / "lit_gemma_tuning.json").read_text())
  assert summary["method"] == "dpo" and summary["held_out"] == 3
  assert summary["held_out_after"]["margin"] > (
      summary["held_out_before"]["margin"] + 1.0), summary
  assert "held-out margin" in stdout


def test_contaminated_set_is_refused_in_one_line(files, tmp_path):
  out = tmp_path / "never"
  status, _, stderr = run(
      ["tune", "--dataset", str(files["sft"]), "--out", str(out),
       "--model", "/no/such/model", "--contamination", "text"])
  assert status == 1 and stderr.count("\n") == 1, stderr
  assert stderr.startswith(f"lit-gemma tune: {files['sft']} (training rows) "
                           "contains evaluation items: ")
  assert f"{files['sft']}:10" in stderr and not out.exists()


def test_bad_arguments_are_refused_before_loading(files, tmp_path):
  (tmp_path / "full").mkdir()
  (tmp_path / "full" / "x").write_text("")
  status, _, stderr = run(["tune", "--dataset", str(files["sft"]), "--out",
                           str(tmp_path / "full"), "--model", "/no/such"])
  assert status == 1 and "exists and is not an empty folder" in stderr
  prompts = alignment_data.write_jsonl(tmp_path / "p.jsonl",
                                       [{"prompt": "Q: hi\nA:"}])
  status, _, stderr = run(["tune", "--dataset", str(prompts), "--out",
                           str(tmp_path / "o"), "--model", "/no/such"])
  assert status == 1 and stderr == (
      f"lit-gemma tune: {prompts}: no rows with a target to train on (rows "
      "marked 'split: eval' are held out)\n")
