"""Checks the GGUF tests share: a tiny Gemma 3 GGUF, what a conversion left
in the cache, and one-line errors."""

import pathlib

import numpy as np


def cache_entries(cache: pathlib.Path) -> list[str]:
  """What a conversion left in a cache's models folder, besides the
  remembered sha256 index."""
  models = cache / "models"
  if not models.exists():
    return []
  return sorted(p.name for p in models.iterdir() if p.name != "sha256")


def assert_one_line_error(excinfo, *fragments: str) -> None:
  message = str(excinfo.value)
  assert "\n" not in message, message
  for fragment in fragments:
    assert fragment in message, message


def write_tiny_gguf(path: pathlib.Path, arch: str = "gemma3", *,
                     extra_tensor: str | None = None,
                     int_tensor: bool = False,
                     pattern: list[bool] | None = None) -> pathlib.Path:
  """A small valid GGUF with Gemma 3's layout and random weights."""
  import gguf  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  layers, d, heads, kv, head_dim, ffn = 2, 32, 2, 1, 16, 64
  tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>",
            "<end_of_turn>"] + [f"<0x{b:02X}>" for b in range(256)] + [
                "\u2581", "a", "b", "\u2581a", "  "]
  types = [3] * 6 + [6] * 256 + [1] * 4 + [4]
  scores = [0.0] * 262 + [-1.0, -2.0, -3.0, -4.0, 0.0]
  writer = gguf.GGUFWriter(str(path), arch)
  a = arch
  for key, value in {"block_count": layers, "embedding_length": d,
                     "feed_forward_length": ffn,
                     "attention.head_count": heads,
                     "attention.head_count_kv": kv,
                     "attention.key_length": head_dim,
                     "attention.value_length": head_dim,
                     "attention.sliding_window": 512,
                     "context_length": 4096}.items():
    writer.add_uint32(f"{a}.{key}", value)
  writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
  writer.add_float32(f"{a}.rope.freq_base", 1e6)
  if pattern is not None:
    writer.add_array(f"{a}.attention.sliding_window_pattern", pattern)
  writer.add_string("tokenizer.ggml.model", "llama")
  writer.add_array("tokenizer.ggml.tokens", tokens)
  writer.add_array("tokenizer.ggml.scores", scores)
  writer.add_array("tokenizer.ggml.token_type", types)
  for key, value in {"bos_token_id": 2, "eos_token_id": 1,
                     "unknown_token_id": 3, "padding_token_id": 0}.items():
    writer.add_uint32(f"tokenizer.ggml.{key}", value)
  writer.add_bool("tokenizer.ggml.add_space_prefix", False)

  def weight(*shape):
    return rng.normal(0, 0.1, size=shape).astype(np.float32)

  embed = weight(len(tokens), d)
  writer.add_tensor("token_embd.weight",
                    gguf.quants.quantize(embed, gguf.GGMLQuantizationType.Q8_0),
                    raw_dtype=gguf.GGMLQuantizationType.Q8_0)
  writer.add_tensor("output_norm.weight", 1 + weight(d))
  for i in range(layers):
    for name, shape in {"attn_norm": (d,), "post_attention_norm": (d,),
                        "ffn_norm": (d,), "post_ffw_norm": (d,),
                        "attn_q_norm": (head_dim,),
                        "attn_k_norm": (head_dim,)}.items():
      writer.add_tensor(f"blk.{i}.{name}.weight", 1 + weight(*shape))
    for name, shape in {"attn_q": (heads * head_dim, d),
                        "attn_k": (kv * head_dim, d),
                        "attn_v": (kv * head_dim, d),
                        "attn_output": (d, heads * head_dim),
                        "ffn_gate": (ffn, d), "ffn_up": (ffn, d),
                        "ffn_down": (d, ffn)}.items():
      writer.add_tensor(f"blk.{i}.{name}.weight",
                        weight(*shape).astype(np.float16))
  if extra_tensor:
    writer.add_tensor(extra_tensor, weight(d))
  if int_tensor:
    writer.add_tensor("blk.0.attn_norm_int.weight",
                      np.zeros((d,), dtype=np.int32))
  writer.write_header_to_file()
  writer.write_kv_data_to_file()
  writer.write_tensors_to_file()
  writer.close()
  return path
