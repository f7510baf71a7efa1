"""Model sources: preset folders load; everything else is refused in one
line that names what was given and what is accepted. No network."""

import keras_hub
import numpy as np
import pytest

import gguf_gemma4_writer
import tiny_models
from lit_gemma.models import sources
from lit_gemma.models import keras_tasks


@pytest.mark.parametrize("family,backbone_cls", [
    ("gemma", keras_hub.models.GemmaBackbone),
    ("gemma2", keras_hub.models.GemmaBackbone),
    ("gemma3", keras_hub.models.Gemma3Backbone),
])
def test_preset_folder_loads_with_its_weights(tiny_presets, family,
                                              backbone_cls):
  causal_lm, source = sources.load_causal_lm(str(tiny_presets[family]))
  assert isinstance(causal_lm.backbone, backbone_cls)
  expected = tiny_models.build_causal_lm(family).backbone
  for got, want in zip(causal_lm.backbone.weights, expected.weights):
    np.testing.assert_array_equal(got.numpy(), want.numpy())
  assert source.identity.startswith("preset:")
  assert keras_tasks.tokenizer_of(causal_lm)("Paris").shape[0] > 0


def test_bfloat16_on_request(tiny_presets):
  causal_lm, _ = sources.load_causal_lm(str(tiny_presets["gemma3"]),
                                        dtype="bfloat16")
  assert causal_lm.backbone.token_embedding.embeddings.dtype == "bfloat16"


def test_multimodal_gemma3_preset_loads_text_model_only(tmp_path):
  tokenizer = keras_hub.models.Gemma3Tokenizer(
      proto=tiny_models.tokenizer_proto())
  vision = keras_hub.models.Gemma3VisionEncoder(
      image_size=16, patch_size=8, num_heads=2, hidden_dim=16, num_layers=1,
      intermediate_dim=32, output_dim=32, pool_size=2)
  backbone = keras_hub.models.Gemma3Backbone(
      vocabulary_size=tokenizer.vocabulary_size(), image_size=16,
      num_layers=2, num_query_heads=2, num_key_value_heads=1, hidden_dim=32,
      intermediate_dim=64, head_dim=16, vision_encoder=vision)
  keras_tasks.save_preset(keras_tasks.build(keras_hub.models.Gemma3CausalLM, backbone,
                                tokenizer), tmp_path)
  causal_lm, _ = sources.load_causal_lm(str(tmp_path))
  assert causal_lm.backbone.vision_encoder is None
  by_path = {w.path: w for w in backbone.weights}
  for weight in causal_lm.backbone.weights:
    np.testing.assert_array_equal(weight.numpy(), by_path[weight.path].numpy())


def test_preset_names_resolve_without_downloading():
  for name in ("gemma_2b_en", "gemma2_instruct_2b_en", "gemma3_1b",
               "gemma3_instruct_4b", "gemma3n_e2b_it", "gemma4_instruct_2b",
               "gemma4_26b_a4b"):
    source = sources.resolve(name)
    assert source.preset == name
    assert source.identity.startswith("keras-hub:kaggle://")


@pytest.mark.parametrize("name,family", [
    ("gemma4_instruct_2b_assistant", "speculative-decoding assistant"),
    ("gemma4_instruct_31b_assistant", "speculative-decoding assistant"),
    ("t5gemma_s_s_ul2", "T5Gemma"),
    ("pali_gemma_3b_224", "PaliGemma"),
    ("embedding_gemma3_300m", "EmbeddingGemma"),
])
def test_other_gemma_families_are_refused(name, family):
  with pytest.raises(sources.SourceError) as error:
    sources.resolve(name)
  message = str(error.value)
  assert "\n" not in message
  assert repr(name) in message and family in message
  assert "accepted: 'embedded'" in message


def test_non_gemma_preset_is_refused():
  with pytest.raises(sources.SourceError,
                     match=r"'bert_base_en' is a keras-hub bert preset, not a "
                           r"Gemma text model; accepted"):
    sources.resolve("bert_base_en")


@pytest.mark.parametrize("spec,what", [
    ("gemma_9000", "unknown preset name"),
    ("./no/such/folder", "no such file or folder"),
    ("missing.gguf", "no such GGUF file"),
])
def test_unknown_sources_are_refused(spec, what):
  with pytest.raises(sources.SourceError) as error:
    sources.resolve(spec)
  assert str(error.value).startswith(f"model source {spec!r}: {what}; ")


def test_folder_without_config_is_refused(tmp_path):
  with pytest.raises(sources.SourceError,
                     match="folder has no config.json, so it is not a "
                           "keras-hub preset folder"):
    sources.resolve(str(tmp_path))


def test_preset_folder_of_another_model_is_refused(tmp_path):
  backbone = keras_hub.models.GPT2Backbone(
      vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
      intermediate_dim=16, max_sequence_length=32)
  backbone.save_to_preset(str(tmp_path))
  with pytest.raises(sources.SourceError,
                     match=r"holds a GPT2Backbone, not a Gemma text model"):
    sources.load_causal_lm(str(tmp_path))


def test_embedding_gemma_folder_is_refused(tmp_path):
  backbone = keras_hub.models.Gemma3Backbone(
      vocabulary_size=64, image_size=16, num_layers=1, num_query_heads=2,
      num_key_value_heads=1, hidden_dim=16, intermediate_dim=32, head_dim=8,
      use_bidirectional_attention=True, is_embedding_model=True,
      pooling_intermediate_dim=32, embedding_dim=16)
  backbone.save_to_preset(str(tmp_path))
  with pytest.raises(sources.SourceError, match="EmbeddingGemma-style"):
    sources.load_causal_lm(str(tmp_path))


def test_unknown_precision_is_refused(tiny_presets):
  with pytest.raises(sources.SourceError, match="precision 'float16'"):
    sources.load_causal_lm(str(tiny_presets["gemma"]), dtype="float16")


def test_loading_leaves_keras_random_initializers_intact(tiny_presets):
  sources.load_causal_lm(str(tiny_presets["gemma"]))
  fresh = keras_hub.models.GemmaBackbone(
      vocabulary_size=64, num_layers=1, num_query_heads=2,
      num_key_value_heads=1, hidden_dim=16, intermediate_dim=32, head_dim=8)
  assert np.asarray(fresh.token_embedding.embeddings).std() > 0


def test_gemma4_folder_loads_text_model(tmp_path):
  """A Gemma 4 preset folder loads with its weights and Gemma 4's own
  tokenizer and task (`<turn|>` a single token)."""
  lm = gguf_gemma4_writer.build_causal_lm("k_eq_v")
  keras_tasks.save_preset(lm, tmp_path)
  causal_lm, source = sources.load_causal_lm(str(tmp_path))
  assert isinstance(causal_lm, keras_hub.models.Gemma4CausalLM)
  assert causal_lm.backbone.vision_encoder is None
  for got, want in zip(causal_lm.backbone.weights, lm.backbone.weights):
    np.testing.assert_array_equal(got.numpy(), want.numpy())
  tokenizer = keras_tasks.tokenizer_of(causal_lm)
  assert np.asarray(tokenizer("<turn|>")).tolist() == [
      tokenizer.token_to_id("<turn|>")]
  assert source.identity.startswith("preset:")


def test_gemma4_assistant_folder_is_refused_by_its_config(tmp_path):
  """An assistant shares K/V in every layer; its name may be anything."""
  (tmp_path / "config.json").write_text(
      '{"module": "keras_hub.src.models.gemma4.gemma4_backbone", '
      '"class_name": "Gemma4Backbone", "config": {"num_layers": 4, '
      '"num_kv_shared_layers": 4}}')
  with pytest.raises(sources.SourceError) as error:
    sources.load_causal_lm(str(tmp_path))
  message = str(error.value)
  assert "\n" not in message
  assert "speculative-decoding assistant" in message
  assert "must not run alone" in message
