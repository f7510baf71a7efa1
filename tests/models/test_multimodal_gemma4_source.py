"""A multimodal Gemma 4 preset folder (a vision encoder in its config, as
keras-hub's gemma4_instruct_* presets have) loads its text model alone:
no vision weights are built or read, and every text weight is the
saved one. No network: the model is tiny, random and saved in the test."""

import keras_hub
import numpy as np

import gguf_gemma4_writer
from lit_gemma.models import sources
from lit_gemma.models import keras_tasks


def test_multimodal_gemma4_folder_loads_text_model_only(tmp_path):
  tokenizer = keras_hub.models.Gemma4Tokenizer(
      proto=gguf_gemma4_writer.tokenizer_proto(), has_vision_tokens=False,
      has_audio_tokens=False, has_video_tokens=False)
  vision = keras_hub.models.Gemma4VisionEncoder(
      image_size=16, patch_size=4, num_heads=2, hidden_dim=16, num_layers=1,
      intermediate_dim=32, head_dim=8, output_dim=32, pool_size=2,
      position_embedding_size=16)
  backbone = keras_hub.models.Gemma4Backbone(
      vocabulary_size=tokenizer.vocabulary_size(), image_size=16,
      num_layers=2, num_query_heads=2, num_key_value_heads=1, hidden_dim=32,
      intermediate_dim=64, head_dim=16, sliding_window_size=8,
      layer_types=["sliding_attention", "full_attention"],
      vision_encoder=vision, dtype="float32")
  rng = np.random.default_rng(0)
  for weight in backbone.weights:
    weight.assign(rng.normal(0, 0.2, weight.shape).astype("float32"))
  keras_tasks.save_preset(
      keras_tasks.build(keras_hub.models.Gemma4CausalLM, backbone, tokenizer),
      str(tmp_path))
  causal_lm, _ = sources.load_causal_lm(str(tmp_path))
  assert causal_lm.backbone.vision_encoder is None
  vision_paths = {w.path for w in vision.weights}
  by_path = {w.path: w for w in backbone.weights}
  loaded = causal_lm.backbone.weights
  assert len(loaded) == len(by_path) - len(vision_paths) > 0
  for weight in loaded:
    assert weight.path not in vision_paths
    np.testing.assert_array_equal(weight.numpy(), by_path[weight.path].numpy())
