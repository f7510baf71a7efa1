"""Tiny random Gemma, Gemma 2 and Gemma 3 causal LMs, built in the test.

They exercise loading, wrappers, jit buckets and gradients in milliseconds
where the real model would take seconds. Each family keeps the features that
make it different: Gemma 2's logit soft-caps and alternating sliding window,
Gemma 3's q/k norms and 5-local-1-global layers with two RoPE bases. The
sliding window is small (8) so that texts in the tests cross it.
"""

import io
import pathlib

import lit_gemma  # noqa: F401  (selects the JAX backend)
from lit_gemma.models import families
from lit_gemma.models import keras_tasks
import keras
import keras_hub
import numpy as np
import sentencepiece

# Engines built here on these models, not through the model layer, find
# their family's forward pass.
families.register_forwards()

FAMILIES = ("gemma", "gemma2", "gemma3")

_CORPUS = """The capital of France is Paris.
Water is made of hydrogen and oxygen atoms.
Step by step: 12 + 7 = 19, then 19 * 2 = 38.
def add(a, b):\n    return a + b
Summarize the article in one sentence.
Bees dance to show where flowers are.
""".splitlines()


def tokenizer_proto() -> bytes:
  """A small SentencePiece model with Gemma's special tokens."""
  out = io.BytesIO()
  sentencepiece.SentencePieceTrainer.train(
      sentence_iterator=iter(_CORPUS * 20),
      model_writer=out,
      vocab_size=330,
      model_type="bpe",
      byte_fallback=True,
      character_coverage=1.0,
      pad_id=0, eos_id=1, bos_id=2, unk_id=3,
      pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
      unk_piece="<unk>",
      user_defined_symbols=["<start_of_turn>", "<end_of_turn>", "<img>",
                            "<start_of_image>", "<end_of_image>"],
      add_dummy_prefix=False,
      remove_extra_whitespaces=False,
      normalization_rule_name="identity",
      minloglevel=2,
  )
  return out.getvalue()


def _backbone(family: str, vocabulary_size: int, dtype: str):
  common = dict(
      vocabulary_size=vocabulary_size, num_query_heads=2,
      num_key_value_heads=1, hidden_dim=32, intermediate_dim=64,
      head_dim=16, dtype=dtype,
  )
  if family == "gemma":
    return keras_hub.models.GemmaBackbone(num_layers=2, **common)
  if family == "gemma2":
    return keras_hub.models.GemmaBackbone(
        num_layers=4, query_head_dim_normalize=False,
        use_post_ffw_norm=True, use_post_attention_norm=True,
        attention_logit_soft_cap=50.0, final_logit_soft_cap=30.0,
        use_sliding_window_attention=True, sliding_window_size=8, **common)
  if family == "gemma3":
    return keras_hub.models.Gemma3Backbone(
        num_layers=6, image_size=16, use_post_ffw_norm=True,
        use_post_attention_norm=True, use_sliding_window_attention=True,
        sliding_window_size=8, vision_encoder=None, **common)
  raise ValueError(family)


def _randomize(backbone, seed: int) -> None:
  """Non-trivial weights everywhere, norms included, so gradients mean
  something and every variable matters."""
  rng = np.random.default_rng(seed)
  for variable in backbone.weights:
    scale = 0.1 if "norm" in variable.path else 0.2
    variable.assign(
        rng.normal(0.0, scale, variable.shape).astype(variable.dtype))


def build_causal_lm(family: str, seed: int = 0, dtype: str = "float32"):
  """A random causal LM of `family` with a working tokenizer."""
  proto = tokenizer_proto()
  if family == "gemma3":
    tokenizer = keras_hub.models.Gemma3Tokenizer(
        proto=proto, has_vision_tokens=False)
    task_cls = keras_hub.models.Gemma3CausalLM
  else:
    tokenizer = keras_hub.models.GemmaTokenizer(proto=proto)
    task_cls = keras_hub.models.GemmaCausalLM
  keras.utils.set_random_seed(seed)
  backbone = _backbone(family, tokenizer.vocabulary_size(), dtype)
  _randomize(backbone, seed)
  return keras_tasks.build(task_cls, backbone, tokenizer)


def save_preset(family: str, folder: pathlib.Path, seed: int = 0):
  """Builds a tiny model and saves it as a keras-hub preset folder."""
  causal_lm = build_causal_lm(family, seed)
  keras_tasks.save_preset(causal_lm, folder)
  return folder
