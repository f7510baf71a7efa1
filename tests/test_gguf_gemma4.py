"""Gemma 4 GGUF files: a tiny random Gemma 4 written with llama.cpp's names
and metadata converts back to a preset with the same logits and tokens
(dense, K=V global heads, and mixture of experts with llama.cpp's fused
expert gate/up tensor); files with a missing or an extra tensor, MoE
metadata keras-hub cannot run, or an assistant model are refused in one
line."""

import numpy as np
import pytest

import lit_gemma  # noqa: F401  (JAX backend before Keras)
from lit_gemma import sources
from lit_gemma import tasks
from lit_gemma import gguf as lg_gguf
from lit_gemma.gguf import gemma4 as gguf_gemma4
import gguf_gemma4_writer
from test_gguf import _assert_one_line_error
from test_gguf import _cache_entries
from test_gguf import temp_cache  # noqa: F401  (a fixture)

TEXTS = ("The capital of France is Paris.",
         "<|turn>user\nWater is made of<turn|>\n<|turn>model\n",
         "def add(a, b):\n    return a + b  \t x")


@pytest.fixture(scope="module", params=sorted(gguf_gemma4_writer.VARIANTS))
def original(request):
  return request.param, gguf_gemma4_writer.build_causal_lm(request.param)


def _converted(original, tmp_path, drop=None):
  import keras_hub  # pylint: disable=g-import-not-at-top

  variant, lm = original
  path = gguf_gemma4_writer.write_gguf(lm, tmp_path / f"{variant}.gguf",
                                       drop=drop)
  preset = lg_gguf.cached_preset(path, progress=lambda *a: None)
  causal_lm, _ = sources.load_causal_lm(str(preset))
  assert isinstance(causal_lm, keras_hub.models.Gemma4CausalLM)
  return causal_lm


def test_converted_logits_equal_the_original(original, tmp_path,
                                             temp_cache):  # noqa: F811
  lm = original[1]
  back = _converted(original, tmp_path)
  tokenizer = tasks.tokenizer_of(lm)
  ids = [tokenizer.start_token_id] + np.asarray(
      tokenizer(TEXTS[0] * 2)).tolist()
  assert len(ids) > 2 * lm.backbone.sliding_window_size
  want, got = gguf_gemma4_writer.logits(lm, ids), gguf_gemma4_writer.logits(back, ids)
  scale = np.abs(want).max()
  assert np.abs(got - want).max() <= 1e-5 * scale
  # The architecture came back, not only numbers that happen to agree.
  for key in ("layer_types", "num_kv_shared_layers", "global_head_dim",
              "num_global_key_value_heads", "use_double_wide_mlp",
              "global_rope_partial_rotary_factor", "final_logit_soft_cap",
              "hidden_size_per_layer_input", "enable_moe_block",
              "num_experts", "num_experts_per_token",
              "expert_intermediate_dim"):
    assert getattr(back.backbone, key) == getattr(lm.backbone, key), key


def test_converted_tokenizer_matches_and_keeps_turn_markers(
    original, tmp_path, temp_cache):  # noqa: F811
  lm = original[1]
  back = _converted(original, tmp_path)
  mine, theirs = tasks.tokenizer_of(back), tasks.tokenizer_of(lm)
  for text in TEXTS:
    assert np.asarray(mine(text)).tolist() == np.asarray(
        theirs(text)).tolist(), text
  turn_end = theirs.token_to_id("<turn|>")
  assert np.asarray(mine("<turn|>")).tolist() == [turn_end]
  assert (mine.start_token_id, mine.end_token_id, mine.pad_token_id) == (
      2, 1, 0)


@pytest.mark.parametrize("problem", ["missing", "extra"])
def test_missing_or_extra_tensor_is_refused(tmp_path, temp_cache,  # noqa: F811
                                            problem):
  lm = gguf_gemma4_writer.build_causal_lm("dense")
  tensor = ("blk.1.attn_k.weight" if problem == "missing"
            else "blk.1.attn_sinks.weight")
  path = gguf_gemma4_writer.write_gguf(
      lm, tmp_path / f"{problem}.gguf",
      drop=tensor if problem == "missing" else None,
      extra=tensor if problem == "extra" else None)
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(path, progress=lambda *a: None)
  what = "is missing" if problem == "missing" else "has no place for"
  _assert_one_line_error(excinfo, str(path), tensor, what, "Gemma 4"
                         if problem == "extra" else tensor)
  assert _cache_entries(temp_cache) == []


def test_kv_sharing_layers_may_carry_unused_kv(tmp_path,
                                               temp_cache):  # noqa: F811
  """llama.cpp may write K/V for layers that read another layer's K/V."""
  lm = gguf_gemma4_writer.build_causal_lm("dense")
  path = gguf_gemma4_writer.write_gguf(lm, tmp_path / "unused_kv.gguf")
  import gguf  # pylint: disable=g-import-not-at-top

  reader = gguf.GGUFReader(path)
  config = gguf_gemma4.read_config(
      lg_gguf.reader.Meta(reader, path, "Gemma 4"), path)
  table = gguf_gemma4.tensors(config)
  assert table["blk.3.attn_k.weight"].variable is None
  assert table["blk.1.attn_k.weight"].variable.endswith("key_dense.kernel")
  assert "blk.3.attn_k.weight" not in {t.name for t in reader.tensors}


@pytest.mark.parametrize("variant,key,value,message", [
    ("moe", "expert_used_count", 9, "expert_used_count is 9, not between 1 "
     "and gemma4.expert_count (4)"),
    ("moe", "expert_gating_func", 2, "expert_gating_func is not softmax"),
    ("dense", "attention.shared_kv_layers", 4,
     "speculative-decoding assistant, not a model that runs alone"),
])
def test_unsupported_gemma4_metadata_is_refused(tmp_path, variant, key,
                                                value, message):
  import gguf  # pylint: disable=g-import-not-at-top

  lm = gguf_gemma4_writer.build_causal_lm(variant)
  path = gguf_gemma4_writer.write_gguf(lm, tmp_path / "base.gguf")
  reader = gguf.GGUFReader(path)

  class Patched(lg_gguf.reader.Meta):
    def get(self, k, default=...):
      if k == f"gemma4.{key}":
        return value
      return super().get(k, default)

    def has(self, k):
      return k == f"gemma4.{key}" or super().has(k)

  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    gguf_gemma4.read_config(Patched(reader, path, "Gemma 4"), path)
  _assert_one_line_error(excinfo, str(path), message)


def test_moe_without_per_expert_scales_reads_them_as_one(tmp_path,
                                                        temp_cache):  # noqa: F811
  """llama.cpp's converter leaves `ffn_down_exps.scale` out when every
  scale is 1; the preset then has scales of 1, not zeros or a refusal."""
  lm = gguf_gemma4_writer.build_causal_lm("moe")
  bank = lm.backbone.transformer_layers[0].moe_expert_bank
  bank.per_expert_scale.assign(np.ones(bank.per_expert_scale.shape,
                                       "float32"))
  back = _converted(("moe", lm), tmp_path, drop="blk.0.ffn_down_exps.scale")
  ids = [2] + np.asarray(tasks.tokenizer_of(lm)(TEXTS[0])).tolist()
  want = gguf_gemma4_writer.logits(lm, ids)
  got = gguf_gemma4_writer.logits(back, ids)
  assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_moe_missing_expert_tensor_is_refused(tmp_path,
                                              temp_cache):  # noqa: F811
  lm = gguf_gemma4_writer.build_causal_lm("moe")
  tensor = "blk.2.ffn_gate_up_exps.weight"
  path = gguf_gemma4_writer.write_gguf(lm, tmp_path / "moe.gguf", drop=tensor)
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(path, progress=lambda *a: None)
  _assert_one_line_error(excinfo, str(path), tensor, "is missing")
  assert _cache_entries(temp_cache) == []


def test_generation_stops_at_gemma4_end_of_turn(original):
  """GemmaLM stops where keras-hub's Gemma4CausalLM stops: `<turn|>`."""
  import sentencepiece  # pylint: disable=g-import-not-at-top
  from lit_gemma import lm as lm_lib  # pylint: disable=g-import-not-at-top

  tokenizer = tasks.tokenizer_of(original[1])
  sp = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.proto)
  assert lm_lib.end_of_turn_ids(sp) == (tokenizer.token_to_id("<turn|>"),)
