"""One record per Gemma family: every consumer reads it, so a family
registered once is served everywhere; and the task settings a preset
folder's task.json holds survive loading."""

import dataclasses
import json
import shutil

import keras
import keras_hub
import numpy as np
import pytest
from keras_hub.src.utils import preset_utils

import backbone_reference
import gguf_checks
import tiny_gemma4
from lit_gemma.models import distribution
from lit_gemma.models import families
from lit_gemma.models import keras_tasks
from lit_gemma.models import lm as lm_lib
from lit_gemma.models import memory_budget
from lit_gemma.models import memory_estimates
from lit_gemma.models import sharding
from lit_gemma.models import sources
from lit_gemma.models.families import record
from lit_gemma.models.gguf import gemma3 as gguf_gemma3
from lit_gemma.models.gguf import reader as gguf_reader
from lit_gemma.salience import forward as forward_lib


def test_each_backbone_declares_its_format():
  assert families.by_backbone_name("Gemma4Backbone").chat_format == "gemma4"
  for name in ("GemmaBackbone", "Gemma3Backbone", "Gemma3nBackbone"):
    assert families.by_backbone_name(name).chat_format == "gemma"


# ---------------------------------------------------------------- a new family


# A family as keras-hub defines one: a backbone and the tokenizer and task
# that name it, here Gemma 3's under names no family of lit-gemma's knows.
@keras.saving.register_keras_serializable(package="lit_gemma_tests")
class FakeGemmaBackbone(keras_hub.models.Gemma3Backbone):
  """Gemma 3's backbone, renamed."""


@keras.saving.register_keras_serializable(package="lit_gemma_tests")
class FakeGemmaTokenizer(keras_hub.models.Gemma3Tokenizer):
  backbone_cls = FakeGemmaBackbone


@keras.saving.register_keras_serializable(package="lit_gemma_tests")
class FakeGemmaCausalLM(keras_hub.models.Gemma3CausalLM):
  backbone_cls = FakeGemmaBackbone


class FakeForward(forward_lib.GemmaForward):
  """Gemma 1-3's forward pass, under the fake family's own name."""


class _AsGemma3Keys(gguf_reader.Meta):
  """A "fakegemma" GGUF's metadata, read under Gemma 3's key names."""

  def __init__(self, meta):  # pylint: disable=super-init-not-called
    vars(self).update(vars(meta))

  def has(self, key):
    return super().has(key.replace("gemma3.", "fakegemma.", 1))

  def get(self, key, default=...):
    return super().get(key.replace("gemma3.", "fakegemma.", 1), default)


# The shape of gguf_checks.write_tiny_gguf's model.
_SIZE = memory_estimates.Size("fakegemma_1m", 267, 32, 2, 2, 1, 16, 64)
_KEY_RULE = (r".*attention/key/kernel", (record.MODEL, None, None))
FAKE = record.Family(
    name="Fake Gemma",
    backbone="FakeGemmaBackbone",
    keras_classes=lambda: record.KerasClasses(
        FakeGemmaBackbone, FakeGemmaTokenizer, FakeGemmaCausalLM),
    forward=lambda: FakeForward,
    preset_folders=("fakegemma",),
    chat_format="gemma4",  # not the default: only the record says it
    sharding=(_KEY_RULE,),  # K/V heads, which no real family splits
    sizes=(_SIZE,),
    context_lengths=(("fakegemma", 2048),),
    gguf=lambda: dataclasses.replace(
        gguf_gemma3.MAPPING, architecture="fakegemma",
        read_config=lambda meta, path: gguf_gemma3.read_config(
            _AsGemma3Keys(meta), path)),
)


@pytest.fixture
def registries(monkeypatch):
  """The family and forward registries, restored after the test."""
  monkeypatch.setattr(families, "_REGISTERED", dict(families._REGISTERED))  # pylint: disable=protected-access
  monkeypatch.setattr(forward_lib, "_REGISTRY", dict(forward_lib._REGISTRY))  # pylint: disable=protected-access
  monkeypatch.setitem(preset_utils.BUILTIN_PRESETS, "fakegemma_1m",
                      {"metadata": {"path": "fakegemma"}})


def _key_layout(backbone):
  """The axes `--distribution=model_parallel:1` gives a key projection."""
  split = distribution.build(distribution.Distribution("model_parallel", 1))
  (key,) = [v for v in backbone.weights
            if v.path == "decoder_block_0/attention/key/kernel"]
  return tuple(split.get_variable_layout(key).axes)


def test_a_family_registered_once_is_served_by_every_consumer(
    registries, tmp_path, temp_cache):
  del registries, temp_cache
  path = gguf_checks.write_tiny_gguf(tmp_path / "fake.gguf", arch="fakegemma")
  with pytest.raises(sources.SourceError,
                     match="architecture 'fakegemma' is not supported"):
    sources.load_causal_lm(str(path))
  with pytest.raises(sources.SourceError, match="not a Gemma text model"):
    sources.check("fakegemma_1m")
  assert memory_budget.size_of("fakegemma_1m").name == "gemma3_270m"

  families.register(FAKE)

  # Sources: its GGUF converts through its mapping into its classes, and
  # the preset folder that makes loads again; its preset names pass.
  lm = lm_lib.GemmaLM.load(str(path))
  assert type(lm.causal_lm) is FakeGemmaCausalLM
  assert type(lm.causal_lm.backbone) is FakeGemmaBackbone
  again, _ = sources.load_causal_lm(lm.source.preset)
  assert type(again.backbone) is FakeGemmaBackbone
  assert sources.check("fakegemma_1m").kind == "preset"
  assert "Fake Gemma preset name" in sources.accepted()
  # The chat format and the salience forward pass its record names.
  assert lm.chat_format == "gemma4"
  assert type(lm.engine.forward) is FakeForward
  ids = lm.encode("a b a")
  mask = np.zeros(len(ids), np.float32)
  mask[-1] = 1
  scores = lm.engine.salience([ids], [mask])[0]
  assert np.all(np.isfinite(scores["grad_l2"])) and scores["grad_l2"].max() > 0
  # Its sharding rule: K/V heads split, which no other family does.
  assert _KEY_RULE in sharding.all_rules()
  assert _key_layout(lm.causal_lm.backbone) == ("model", None, None)
  # Its memory figures: its size (whose weights are what loaded) and its
  # context length cap the plan.
  size = memory_budget.size_of("fakegemma_1m")
  assert size is _SIZE
  measured = sum(v.value.nbytes for v in lm.causal_lm.backbone.weights)
  assert memory_estimates.weight_bytes(size, "float32") == measured
  assert memory_budget.plan(sources=("fakegemma_1m",)).max_length == 2048


def test_a_backbone_claimed_twice_is_refused(registries):
  del registries
  twin = dataclasses.replace(FAKE, name="Twin")
  families.register(FAKE)
  with pytest.raises(ValueError, match="FakeGemmaBackbone is already the "
                     "backbone of 'Fake Gemma'"):
    families.register(twin)


def test_unregistered_key_projection_stays_whole(tiny_lm):
  assert _KEY_RULE not in sharding.all_rules()
  assert _key_layout(tiny_lm.causal_lm.backbone) == (None, None, None)


# ------------------------------------------------------------- task settings

_CAP = 30.0


def test_task_json_settings_survive_loading(tmp_path):
  """A Gemma 4 preset saved with a task-level `final_logit_cap`: the loaded
  task keeps it, and salience equals the gradient through keras-hub's own
  model loaded from the folder (which a cap dropped would miss by more than
  5 times the tolerance)."""
  built = tiny_gemma4.build_gemma4_causal_lm("kv_global")
  assert built.final_logit_cap is None
  capped = keras_tasks.build(keras_hub.models.Gemma4CausalLM, built.backbone,
                             keras_tasks.tokenizer_of(built),
                             final_logit_cap=_CAP)
  keras_tasks.save_preset(capped, tmp_path / "g4")
  own = keras_hub.models.Gemma4CausalLM.from_preset(str(tmp_path / "g4"),
                                                    preprocessor=None)
  assert own.final_logit_cap == _CAP

  lm = lm_lib.GemmaLM.load(str(tmp_path / "g4"))
  assert lm.causal_lm.final_logit_cap == _CAP
  rng = np.random.default_rng(0)
  ids = [2] + rng.choice(np.arange(3, 300), 24, replace=False).tolist()
  mask = np.zeros(len(ids), np.float32)
  mask[-6:] = 1
  g, rows, logits = backbone_reference.task_gradient(own, ids, mask)
  ids_arr = np.asarray([ids], "int32")
  expected = np.asarray(own({
      "token_ids": ids_arr, "padding_mask": np.ones_like(ids_arr),
      "position_ids": np.arange(len(ids), dtype="int32")[None]}))[0]
  assert np.abs(logits - expected).max() <= 1e-5 * np.abs(expected).max()
  ours = lm.engine.salience([ids], [mask])[0]
  np.testing.assert_allclose(ours["grad_l2"], np.linalg.norm(g, axis=-1),
                             rtol=2e-4, atol=1e-6)
  np.testing.assert_allclose(ours["grad_dot_input"], np.sum(g * rows, -1),
                             rtol=2e-3, atol=1e-5)
  # Without the cap, grad_l2 is off by over 5 times that tolerance.
  uncapped, _, _ = backbone_reference.task_gradient(own, ids, mask, None)
  norms, off = np.linalg.norm(g, axis=-1), np.linalg.norm(uncapped, axis=-1)
  assert np.max(np.abs(off - norms)[norms > 0] / norms[norms > 0]) > 5 * 2e-4


def test_task_json_naming_an_unknown_class_is_refused_in_one_line(
    tiny_preset, tmp_path):
  folder = tmp_path / "renamed_task"
  shutil.copytree(tiny_preset, folder)
  task_file = folder / "task.json"
  saved = json.loads(task_file.read_text())
  saved["registered_name"] = "nowhere>NoSuchCausalLM"
  task_file.write_text(json.dumps(saved))
  with pytest.raises(sources.SourceError) as excinfo:
    sources.load_causal_lm(str(folder))
  assert str(excinfo.value) == (
      f"model source {str(folder)!r}: its task.json names the class "
      "'nowhere>NoSuchCausalLM', which keras-hub does not know")
