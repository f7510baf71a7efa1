"""Tiny random Gemma 4 and Gemma 3n text models, built in the test.

Each keeps one group of the features that set its family apart, with a
sliding window (8) that test texts cross and local and global layers
alternating (so K/V-shared layers borrow from both kinds):
- "dense_ple": per-layer token inputs, K/V shared by the last layers, both
  soft-caps (the backbone's and the causal LM's `final_logit_cap`);
- "moe": the mixture-of-experts block beside the dense MLP (2 of 4
  experts per token);
- "kv_global": global layers with their own head size and K=V heads,
  partial RoPE, the double-wide MLP on K/V-shared layers;
- "gemma3n": Gemma 3n's text model (AltUp, LAuReL, activation sparsity,
  K/V sharing, a per-layer vocabulary smaller than the main one).
Norm scales are drawn around 1: both families' RMSNorm is `x * scale`.
"""

import lit_gemma  # noqa: F401  (selects the JAX backend)
from lit_gemma.models import families
from lit_gemma.models import keras_tasks
import keras
import keras_hub
import numpy as np

# Engines built here on these models, not through the model layer, find
# their family's forward pass.
families.register_forwards()

GEMMA4_MODELS = ("dense_ple", "moe", "kv_global")
MODELS = GEMMA4_MODELS + ("gemma3n",)
VOCABULARY = 64
PER_LAYER_VOCABULARY = 60  # Gemma 3n: ids 60..63 read the per-layer row 0

_GEMMA4_COMMON = dict(
    vocabulary_size=VOCABULARY, image_size=16, num_query_heads=2,
    num_key_value_heads=1, hidden_dim=32, intermediate_dim=48, head_dim=16,
    sliding_window_size=8, sliding_window_pattern=2, vision_encoder=None,
)
_GEMMA4 = {
    "dense_ple": dict(num_layers=4, hidden_size_per_layer_input=8,
                      num_kv_shared_layers=2, final_logit_soft_cap=30.0),
    "moe": dict(num_layers=2, enable_moe_block=True, num_experts=4,
                expert_intermediate_dim=16, num_experts_per_token=2),
    "kv_global": dict(num_layers=4, global_head_dim=32,
                      num_global_key_value_heads=1,
                      global_rope_partial_rotary_factor=0.25,
                      use_double_wide_mlp=True, num_kv_shared_layers=2,
                      attention_logit_soft_cap=50.0),
}
_TASK_CAP = {"dense_ple": 20.0}


def _randomize(model, seed: int) -> None:
  """Non-trivial weights everywhere: scales near 1, the rest near 0."""
  rng = np.random.default_rng(seed)
  for variable in model.weights:
    near_one = any(word in variable.path for word in ("norm", "scale",
                                                     "layer_scalar"))
    value = rng.normal(0.0, 0.1 if near_one else 0.2, variable.shape)
    variable.assign((value + near_one).astype(variable.dtype))


def _gemma3n(dtype: str, vocabulary_size: int = VOCABULARY,
             sparsity: float = 0.95):
  layers = 4
  return keras_hub.models.Gemma3nBackbone(
      text_vocab_size=vocabulary_size, text_hidden_size=32,
      num_hidden_layers=layers, pad_token_id=0, num_attention_heads=2,
      num_key_value_heads=1, head_dim=16, intermediate_size=[48] * layers,
      hidden_activation="gelu_approximate",
      layer_types=["sliding_attention", "full_attention"] * 2,
      sliding_window=8, rope_theta=1e6, max_position_embeddings=128,
      vocab_size_per_layer_input=PER_LAYER_VOCABULARY,
      hidden_size_per_layer_input=8, altup_num_inputs=2, laurel_rank=4,
      num_kv_shared_layers=2, final_logit_soft_cap=30.0,
      activation_sparsity_pattern=[sparsity, 0.0, 0.0, 0.0], dtype=dtype)


def build(name: str, seed: int = 0, dtype: str = "float32",
          vocabulary_size: int = VOCABULARY, sparsity: float = 0.95):
  """(backbone, final_logit_cap): a random tiny text model `name`;
  `sparsity` is Gemma 3n's first-layer activation sparsity."""
  keras.utils.set_random_seed(seed)
  if name == "gemma3n":
    backbone = _gemma3n(dtype, vocabulary_size, sparsity)
  else:
    config = dict(_GEMMA4_COMMON, vocabulary_size=vocabulary_size)
    backbone = keras_hub.models.Gemma4Backbone(
        **config, **_GEMMA4[name], dtype=dtype)
  _randomize(backbone, seed)
  return backbone, _TASK_CAP.get(name)


def reference_logits(name: str, backbone, final_logit_cap, ids) -> np.ndarray:
  """Logits [T, V] as keras-hub's own causal LM computes them."""
  ids = np.asarray([ids], "int32")
  if name == "gemma3n":
    causal_lm = keras_hub.models.Gemma3nCausalLM(
        preprocessor=None, backbone=backbone)
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids, bool)}
  else:
    causal_lm = keras_hub.models.Gemma4CausalLM(
        preprocessor=None, backbone=backbone,
        final_logit_cap=final_logit_cap)
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids),
              "position_ids": np.arange(ids.shape[1], dtype="int32")[None]}
  return np.asarray(causal_lm(inputs))[0]


_GEMMA3N_SPECIAL = ("<start_of_turn>", "<end_of_turn>", "<image_soft_token>",
                    "<audio_soft_token>", "<start_of_image>",
                    "<end_of_image>", "<start_of_audio>", "<end_of_audio>",
                    "<mask>", "[multimodal]")


def build_gemma3n_causal_lm(seed: int = 0, sparsity: float = 0.95):
  """A random tiny text-only `Gemma3nCausalLM` with a working tokenizer
  (keras-hub's Gemma 3n tokenizer needs its multimodal markers)."""
  import io  # pylint: disable=g-import-not-at-top

  import sentencepiece  # pylint: disable=g-import-not-at-top
  import tiny_models  # pylint: disable=g-import-not-at-top

  out = io.BytesIO()
  sentencepiece.SentencePieceTrainer.train(
      sentence_iterator=iter(tiny_models._CORPUS * 20),  # pylint: disable=protected-access
      model_writer=out, vocab_size=330, model_type="bpe", byte_fallback=True,
      character_coverage=1.0, pad_id=0, eos_id=1, bos_id=2, unk_id=3,
      pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
      unk_piece="<unk>", user_defined_symbols=list(_GEMMA3N_SPECIAL),
      add_dummy_prefix=False, remove_extra_whitespaces=False,
      normalization_rule_name="identity", minloglevel=2)
  tokenizer = keras_hub.models.Gemma3nTokenizer(proto=out.getvalue())
  backbone, _ = build("gemma3n", seed,
                      vocabulary_size=tokenizer.vocabulary_size(),
                      sparsity=sparsity)
  return keras_tasks.build(keras_hub.models.Gemma3nCausalLM, backbone, tokenizer)


def build_gemma4_causal_lm(name: str, seed: int = 0):
  """A random tiny `Gemma4CausalLM` `name` with a working tokenizer."""
  import tiny_models  # pylint: disable=g-import-not-at-top

  tokenizer = keras_hub.models.Gemma4Tokenizer(
      proto=tiny_models.tokenizer_proto(), has_vision_tokens=False,
      has_video_tokens=False)
  backbone, cap = build(name, seed,
                        vocabulary_size=tokenizer.vocabulary_size())
  return keras_tasks.build(keras_hub.models.Gemma4CausalLM, backbone, tokenizer,
                     final_logit_cap=cap)


def cached_decode_logits(causal_lm, prompt, new) -> np.ndarray:
  """Logits [len(new), V] of keras-hub's K/V-cached decoding path, as its
  `generate_step` runs it: one forward pass seeds the cache over the
  prompt, then `call_with_cache` reads one token at a time. Row j is what
  chose `new[j]`."""
  ids = list(prompt) + list(new)
  token_ids = np.asarray([ids + [0]], "int32")
  padding = np.zeros_like(token_ids, bool)
  padding[0, : len(prompt)] = True
  if isinstance(causal_lm, keras_hub.models.Gemma4CausalLM):
    _, cache = causal_lm._build_cache(  # pylint: disable=protected-access
        token_ids, None, None, padding, None)
  else:  # Gemma 3n: no encoder inputs, padding mask last
    _, cache = causal_lm._build_cache(  # pylint: disable=protected-access
        token_ids, None, None, None, None, None, None, None, padding)
  rows = []
  for index in range(len(prompt), len(ids) + 1):
    logits, _, cache = causal_lm.call_with_cache(
        token_ids=token_ids[:, index - 1 : index], cache=cache,
        cache_update_index=index - 1,
        cache_update_mask=~padding[:, index - 1 : index])
    rows.append(np.asarray(logits)[0, 0])
  return np.stack(rows[: len(new)])
