"""Tiny random Gemma 4 text models, and GGUF files written from them with
llama.cpp's Gemma 4 names and metadata.

The GGUF writer here is the inverse of `lit_gemma/models/gguf/gemma4.py`, written
independently from the `gguf` package's own tables (`MODEL_TENSORS` and
`TENSOR_NAMES` for `MODEL_ARCH.GEMMA4`, the `Keys` constants) and from what
ggml-org/llama.cpp's converter writes (`conversion/gemma.py`, `Gemma4Model`
at 061b8c5f91885f2779d23198a091777df47c3f6f, on top of `TextModel` and
`Gemma3Model`): norms stored as they are, `feed_forward_length` an array
only with the double-wide MLP, `head_count_kv` an array only when global
layers have their own K/V heads, `rope_freqs` marking unrotated pairs with
1e30, `rope.dimension_count(_swa)` the full head sizes, no
`expert_gating_func`, a BPE merge list with placeholder scores of -1000,
turn markers typed CONTROL. Mixture-of-experts blocks are written as
`src/models/gemma4.cpp` (9af0434d8c5ede7127955d063a9617d8492ae79d) loads
them: the dense and the expert path's norms as `ffn_norm`/`post_ffw_norm_1`
and `pre_ffw_norm_2`/`post_ffw_norm_2`, the router as `ffn_gate_inp`
(`.weight` and `.scale`), each expert's gate and up fused (gate first) in
`ffn_gate_up_exps` (or apart, the loader's fallback), the per-expert scales
as `ffn_down_exps.scale`.
"""

import io
import pathlib

import lit_gemma  # noqa: F401  (JAX backend before Keras)
from lit_gemma.models import keras_tasks
import keras_hub
import numpy as np
import sentencepiece
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

TURN_MARKERS = ("<|turn>", "<turn|>")
_CORPUS = """The capital of France is Paris.
Water is made of hydrogen and oxygen atoms.
Step by step: 12 + 7 = 19, then 19 * 2 = 38.
def add(a, b):\n    return a + b
Bees dance to show where flowers are.
""".splitlines()

# Variants the tests build: what each adds to the base (4 layers, sliding
# window 8, layers 1 and 3 global, per-layer inputs, the last 2 layers
# sharing K/V).
VARIANTS = {
    "dense": {},
    "k_eq_v": dict(num_global_key_value_heads=2,
                   global_rope_partial_rotary_factor=0.25,
                   use_double_wide_mlp=True),
    "moe": dict(enable_moe_block=True, num_experts=4,
                expert_intermediate_dim=16, num_experts_per_token=2),
}


def tokenizer_proto() -> bytes:
  """A small SentencePiece BPE model with Gemma 4's turn markers."""
  out = io.BytesIO()
  sentencepiece.SentencePieceTrainer.train(
      sentence_iterator=iter(_CORPUS * 20), model_writer=out, vocab_size=330,
      model_type="bpe", byte_fallback=True, character_coverage=1.0,
      pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>",
      eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
      user_defined_symbols=list(TURN_MARKERS), add_dummy_prefix=False,
      remove_extra_whitespaces=False, normalization_rule_name="identity",
      minloglevel=2)
  return out.getvalue()


def build_causal_lm(variant: str = "dense", seed: int = 0):
  """A float32 Gemma4CausalLM with random weights (norms near 1)."""
  tokenizer = keras_hub.models.Gemma4Tokenizer(
      proto=tokenizer_proto(), has_vision_tokens=False,
      has_audio_tokens=False, has_video_tokens=False)
  backbone = keras_hub.models.Gemma4Backbone(
      vocabulary_size=tokenizer.vocabulary_size(), image_size=896,
      num_layers=4, num_query_heads=2, num_key_value_heads=1, hidden_dim=32,
      intermediate_dim=64, head_dim=16, global_head_dim=32,
      sliding_window_size=8,
      layer_types=["sliding_attention", "full_attention"] * 2,
      num_kv_shared_layers=2, hidden_size_per_layer_input=8,
      final_logit_soft_cap=30.0, global_rope_wavelength=1e6,
      local_rope_wavelength=1e4, dtype="float32", **VARIANTS[variant])
  rng = np.random.default_rng(seed)
  for w in backbone.weights:
    shape = tuple(w.shape)
    if w.path.endswith("scale") or w.path.endswith("layer_scalar"):
      w.assign((1 + rng.normal(0, 0.2, shape)).astype("float32"))
    else:
      w.assign(rng.normal(0, 0.2, shape).astype("float32"))
  return keras_tasks.build(keras_hub.models.Gemma4CausalLM, backbone, tokenizer)


def logits(causal_lm, ids: list[int]) -> np.ndarray:
  """Float32 logits through the backbone and its tied (soft-capped) head."""
  x = np.asarray([ids], dtype="int32")
  hidden = causal_lm.backbone({
      "token_ids": x, "padding_mask": np.ones_like(x),
      "position_ids": np.arange(len(ids), dtype="int32")[None]})
  return np.asarray(causal_lm.backbone.token_embedding(hidden, reverse=True))


def _merges(proto: sp_pb2.ModelProto) -> list[str]:
  """A BPE merge list that merges in SentencePiece's score order: for each
  merged piece (best score first), a split into two pieces of the vocab."""
  normal = sp_pb2.ModelProto.SentencePiece.NORMAL
  vocab = {p.piece for p in proto.pieces}
  merged = sorted((p for p in proto.pieces
                   if p.type == normal and len(p.piece) > 1),
                  key=lambda p: -p.score)
  out = []
  for piece in merged:
    text = piece.piece
    split = next(i for i in range(1, len(text))
                 if text[:i] in vocab and text[i:] in vocab)
    out.append(f"{text[:split]} {text[split:]}")
  return out


def _token_types(proto: sp_pb2.ModelProto) -> list[int]:
  import gguf  # pylint: disable=g-import-not-at-top

  sp = sp_pb2.ModelProto.SentencePiece
  by_type = {sp.NORMAL: gguf.TokenType.NORMAL, sp.UNKNOWN:
             gguf.TokenType.UNKNOWN, sp.CONTROL: gguf.TokenType.CONTROL,
             sp.BYTE: gguf.TokenType.BYTE,
             # llama.cpp types special added tokens (the turn markers)
             # CONTROL.
             sp.USER_DEFINED: gguf.TokenType.CONTROL}
  return [int(by_type[p.type]) for p in proto.pieces]


def write_gguf(causal_lm, path: pathlib.Path, *, drop=None,
               extra: str | None = None,
               split_experts: bool = False) -> pathlib.Path:
  """Writes `causal_lm` as llama.cpp would write its Gemma 4 GGUF; `drop`
  leaves out one tensor (a name) or several (a tuple), `extra` adds one,
  `split_experts` writes MoE gate/up as two tensors."""
  import gguf  # pylint: disable=g-import-not-at-top

  arch = gguf.MODEL_ARCH.GEMMA4
  names = gguf.TENSOR_NAMES
  T = gguf.MODEL_TENSOR
  # gguf 0.19's GEMMA4 table lacks the unfused expert tensors that
  # llama.cpp's Gemma 4 loader accepts in place of ffn_gate_up_exps.
  known = set(gguf.MODEL_TENSORS[arch]) | {T.FFN_GATE_EXP, T.FFN_UP_EXP}

  def name(tensor, bid=None, suffix="weight"):
    assert tensor in known, tensor
    return names[tensor].format(bid=bid) + "." + suffix

  bb = causal_lm.backbone
  layers = bb.transformer_layers
  sliding = [t == "sliding_attention" for t in bb.layer_types]
  n, d = bb.num_layers, bb.hidden_dim
  writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
  writer.add_block_count(n)
  writer.add_context_length(4096)
  writer.add_embedding_length(d)
  first_shared = n - bb.num_kv_shared_layers
  widths = [bb.intermediate_dim * (2 if bb.use_double_wide_mlp and
                                   i >= first_shared else 1)
            for i in range(n)]
  writer.add_feed_forward_length(widths if bb.use_double_wide_mlp
                                 else widths[0])
  writer.add_head_count(bb.num_query_heads)
  if bb.num_global_key_value_heads is None:
    writer.add_head_count_kv(bb.num_key_value_heads)
  else:
    writer.add_head_count_kv([bb.num_key_value_heads if s else
                              bb.num_global_key_value_heads for s in sliding])
  writer.add_layer_norm_rms_eps(bb.layer_norm_epsilon)
  writer.add_key_length(bb.global_head_dim)
  writer.add_value_length(bb.global_head_dim)
  writer.add_key_length_swa(bb.head_dim)
  writer.add_value_length_swa(bb.head_dim)
  writer.add_rope_freq_base(bb.global_rope_wavelength)
  writer.add_rope_freq_base_swa(bb.local_rope_wavelength)
  writer.add_rope_dimension_count(bb.global_head_dim)
  writer.add_rope_dimension_count_swa(bb.head_dim)
  writer.add_final_logit_softcapping(bb.final_logit_soft_cap)
  writer.add_sliding_window(bb.sliding_window_size)
  writer.add_sliding_window_pattern(sliding)
  writer.add_shared_kv_layers(bb.num_kv_shared_layers)
  writer.add_embedding_length_per_layer_input(bb.hidden_size_per_layer_input)
  moe = layers[0].enable_moe_block
  if moe:
    writer.add_expert_count(layers[0].num_experts)
    writer.add_expert_used_count(layers[0].num_experts_per_token)
    writer.add_expert_feed_forward_length(layers[0].expert_intermediate_dim)

  proto = sp_pb2.ModelProto.FromString(
      keras_tasks.tokenizer_of(causal_lm).proto)
  writer.add_tokenizer_model("gemma4")
  writer.add_token_list([p.piece for p in proto.pieces])
  writer.add_token_scores([-1000.0] * len(proto.pieces))
  writer.add_token_types(_token_types(proto))
  writer.add_token_merges(_merges(proto))
  writer.add_bos_token_id(2)
  writer.add_eos_token_id(1)
  writer.add_unk_token_id(3)
  writer.add_pad_token_id(0)
  writer.add_add_space_prefix(False)
  writer.add_add_bos_token(True)

  tensors = {}

  def put(key, value):
    tensors[key] = np.ascontiguousarray(np.asarray(value, "float32"))

  put(name(T.TOKEN_EMBD), bb.token_embedding.embeddings)
  put(name(T.OUTPUT_NORM), bb.layer_norm.scale)
  hpl = bb.hidden_size_per_layer_input
  put(name(T.PER_LAYER_TOKEN_EMBD), bb.per_layer_token_embedding.embeddings)
  put(name(T.PER_LAYER_MODEL_PROJ),
      np.asarray(bb.per_layer_model_projection.kernel).T)
  put(name(T.PER_LAYER_PROJ_NORM), bb.per_layer_projection_norm.scale)
  rotated = int(bb.global_head_dim * bb.global_rope_partial_rotary_factor
                / 2)
  put(name(T.ROPE_FREQS), [1.0] * rotated
      + [1e30] * (bb.global_head_dim // 2 - rotated))

  def heads_in(kernel):  # keras (heads, d, hd) -> llama.cpp (heads*hd, d)
    k = np.asarray(kernel)
    return k.transpose(0, 2, 1).reshape(-1, k.shape[1])

  for i, block in enumerate(layers):
    att = block.attention
    put(name(T.ATTN_NORM, i), block.pre_attention_norm.scale)
    put(name(T.ATTN_POST_NORM, i), block.post_attention_norm.scale)
    put(name(T.FFN_PRE_NORM, i), block.pre_ffw_norm.scale)
    put(name(T.FFN_POST_NORM, i), block.post_ffw_norm.scale)
    put(name(T.ATTN_Q, i), heads_in(att.query_dense.kernel))
    put(name(T.ATTN_Q_NORM, i), att.query_norm.scale)
    out = np.asarray(att.output_dense.kernel)  # (heads, hd, d)
    put(name(T.ATTN_OUT, i), out.reshape(-1, out.shape[-1]).T)
    if att.key_dense is not None:
      put(name(T.ATTN_K, i), heads_in(att.key_dense.kernel))
      put(name(T.ATTN_K_NORM, i), att.key_norm.scale)
      if att.value_dense is not None:
        put(name(T.ATTN_V, i), heads_in(att.value_dense.kernel))
    put(name(T.FFN_GATE, i), np.asarray(block.gating_ffw.kernel).T)
    put(name(T.FFN_UP, i), np.asarray(block.gating_ffw_2.kernel).T)
    put(name(T.FFN_DOWN, i), np.asarray(block.ffw_linear.kernel).T)
    put(name(T.LAYER_OUT_SCALE, i), np.reshape(block.layer_scalar, (1,)))
    if moe:
      _put_moe(put, name, T, i, block, split_experts)
    if hpl:
      put(name(T.PER_LAYER_INP_GATE, i),
          np.asarray(block.per_layer_input_gate.kernel).T)
      put(name(T.PER_LAYER_PROJ, i),
          np.asarray(block.per_layer_up_proj.kernel).T)
      put(name(T.PER_LAYER_POST_NORM, i),
          block.post_per_layer_input_norm.scale)
  for one in (drop,) if isinstance(drop, str) else drop or ():
    del tensors[one]
  if extra:
    tensors[extra] = np.zeros((d,), "float32")
  for key, value in tensors.items():
    writer.add_tensor(key, value)
  writer.write_header_to_file()
  writer.write_kv_data_to_file()
  writer.write_tensors_to_file()
  writer.close()
  return path


def _put_moe(put, name, T, i: int, block, split: bool) -> None:
  """One MoE block's tensors in llama.cpp's layout (E first, (out, in))."""
  bank, router = block.moe_expert_bank, block.moe_router
  put(name(T.FFN_POST_NORM_1, i), block.post_ffw_norm_dense.scale)
  put(name(T.FFN_PRE_NORM_2, i), block.pre_ffw_norm_moe.scale)
  put(name(T.FFN_POST_NORM_2, i), block.post_ffw_norm_moe_path.scale)
  put(name(T.FFN_GATE_INP, i), np.asarray(router.proj.kernel).T)
  put(name(T.FFN_GATE_INP, i, "scale"), router.per_dim_scale)
  gate = np.asarray(bank.gate_proj).transpose(0, 2, 1)  # (E, I, H)
  up = np.asarray(bank.up_proj).transpose(0, 2, 1)
  if split:
    put(name(T.FFN_GATE_EXP, i), gate)
    put(name(T.FFN_UP_EXP, i), up)
  else:
    put(name(T.FFN_GATE_UP_EXP, i), np.concatenate([gate, up], axis=1))
  put(name(T.FFN_DOWN_EXP, i), np.asarray(bank.down_proj).transpose(0, 2, 1))
  put(name(T.FFN_DOWN_EXP, i, "scale"), bank.per_expert_scale)
