"""Gemma 4 GGUF files: a tiny random Gemma 4 written with llama.cpp's names
and metadata converts back to a preset with the same logits and tokens
(dense, K=V global heads, and mixture of experts with llama.cpp's fused or
unfused expert gate/up tensors); what llama.cpp's loader treats as optional
or defaults is read the same way; files with a missing or an extra tensor,
metadata keras-hub cannot run, or an assistant model are refused in one
line."""

import numpy as np
import pytest

import lit_gemma  # noqa: F401  (JAX backend before Keras)
from lit_gemma.models import sources
from lit_gemma.models import keras_tasks
from lit_gemma.models import gguf as lg_gguf
from lit_gemma.models.gguf import gemma4 as gguf_gemma4
import gguf_gemma4_writer
from gguf_checks import assert_one_line_error as _assert_one_line_error
from gguf_checks import cache_entries as _cache_entries

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
  tokenizer = keras_tasks.tokenizer_of(lm)
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
  mine, theirs = keras_tasks.tokenizer_of(back), keras_tasks.tokenizer_of(lm)
  for text in TEXTS:
    assert np.asarray(mine(text)).tolist() == np.asarray(
        theirs(text)).tolist(), text
  turn_end = theirs.token_to_id("<turn|>")
  assert np.asarray(mine("<turn|>")).tolist() == [turn_end]
  assert (mine.start_token_id, mine.end_token_id, mine.pad_token_id) == (
      2, 1, 0)


@pytest.mark.parametrize("problem,tensor", [
    ("missing", "blk.1.attn_k.weight"),
    ("missing", "rope_freqs.weight"),  # required by llama.cpp's loader
    ("extra", "blk.1.attn_sinks.weight"),
])
def test_missing_or_extra_tensor_is_refused(tmp_path, temp_cache,  # noqa: F811
                                            problem, tensor):
  lm = gguf_gemma4_writer.build_causal_lm("dense")
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


_ABSENT = object()


class _Patched(lg_gguf.reader.Meta):
  """A file's metadata with some `gemma4.*` keys changed or removed."""

  def __init__(self, gguf_reader, path, changes):
    super().__init__(gguf_reader, path, "Gemma 4")
    self._changes = {f"gemma4.{k}": v for k, v in changes.items()}

  def get(self, k, default=...):
    if k not in self._changes:
      return super().get(k, default)
    if self._changes[k] is not _ABSENT:
      return self._changes[k]
    if default is ...:
      raise lg_gguf.reader.fail(self.path, f"metadata key {k} is missing")
    return default

  def has(self, k):
    if k in self._changes:
      return self._changes[k] is not _ABSENT
    return super().has(k)


def _read(tmp_path, variant, **changes):
  """Config (after the tensors) of `variant`'s GGUF with metadata changed."""
  import gguf  # pylint: disable=g-import-not-at-top

  path = gguf_gemma4_writer.write_gguf(
      gguf_gemma4_writer.build_causal_lm(variant), tmp_path / "base.gguf")
  gguf_reader = gguf.GGUFReader(path)
  config = gguf_gemma4.read_config(_Patched(gguf_reader, path, changes), path)
  return path, gguf_gemma4.with_tensors(
      config, {t.name: t for t in gguf_reader.tensors}, path)


@pytest.mark.parametrize("variant,key,value,message", [
    ("moe", "expert_used_count", 9, "expert_used_count is 9, not between 1 "
     "and gemma4.expert_count (4)"),
    ("dense", "attention.shared_kv_layers", 4,
     "speculative-decoding assistant, not a model that runs alone"),
    # Global layers with their own K/V head count but their own attn_v.
    ("dense", "attention.head_count_kv", [1, 2, 1, 2],
     "keras-hub's Gemma 4 gives global layers their own K/V head count "
     "only when K and V share attn_k"),
])
def test_unsupported_gemma4_metadata_is_refused(tmp_path, variant, key,
                                                value, message):
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    _read(tmp_path, variant, **{key: value})
  _assert_one_line_error(excinfo, str(tmp_path / "base.gguf"), message)


def test_metadata_defaults_are_llama_cpp_s(tmp_path):
  """Keys llama.cpp's Gemma 4 loader may miss read as its defaults: final
  soft cap 30 (llama_hparams), sliding RoPE base 10000, sliding head size
  the global one; the attention soft cap its graph never applies is not
  applied either."""
  _, config = _read(tmp_path, "dense", **{
      "final_logit_softcapping": _ABSENT, "rope.freq_base_swa": _ABSENT,
      "attention.key_length_swa": _ABSENT,
      "attention.value_length_swa": _ABSENT,
      "rope.dimension_count_swa": _ABSENT, "attn_logit_softcapping": 50.0})
  k = config.kwargs
  assert (k["final_logit_soft_cap"], k["local_rope_wavelength"],
          k["head_dim"], k["attention_logit_soft_cap"]) == (
              30.0, 10000.0, k["global_head_dim"], None)
  _, uncapped = _read(tmp_path, "dense", final_logit_softcapping=0.0)
  assert uncapped.kwargs["final_logit_soft_cap"] is None


def test_k_eq_v_comes_from_the_missing_attn_v(tmp_path):
  """As in llama.cpp's loader, global layers without attn_v use K as V."""
  assert _read(tmp_path, "dense")[1].kwargs[
      "num_global_key_value_heads"] is None
  assert _read(tmp_path, "k_eq_v")[1].kwargs[
      "num_global_key_value_heads"] == 2


def test_loader_alternatives_convert_to_the_same_model(
    tmp_path, temp_cache):  # noqa: F811
  """What llama.cpp's Gemma 4 loader accepts besides the converter's
  layout gives the same model: each expert's gate and up as
  `ffn_gate_exps` + `ffn_up_exps` instead of the fused tensor, and no
  `ffn_down_exps.scale` or `layer_output_scale` (optional there: no
  scaling), which the preset then fills with 1, not zeros."""
  lm = gguf_gemma4_writer.build_causal_lm("moe", seed=1)
  for layer in lm.backbone.transformer_layers:
    bank = layer.moe_expert_bank
    bank.per_expert_scale.assign(np.ones(bank.per_expert_scale.shape,
                                         "float32"))
    layer.layer_scalar.assign(np.ones(layer.layer_scalar.shape, "float32"))
  drop = tuple(name for i in range(lm.backbone.num_layers) for name in (
      f"blk.{i}.ffn_down_exps.scale", f"blk.{i}.layer_output_scale.weight"))
  path = gguf_gemma4_writer.write_gguf(lm, tmp_path / "alt.gguf", drop=drop,
                                       split_experts=True)
  back, _ = sources.load_causal_lm(
      str(lg_gguf.cached_preset(path, progress=lambda *a: None)))
  ids = [2] + np.asarray(keras_tasks.tokenizer_of(lm)(TEXTS[2])).tolist()
  want = gguf_gemma4_writer.logits(lm, ids)
  got = gguf_gemma4_writer.logits(back, ids)
  assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_assistant_architecture_is_refused_by_name(tmp_path,
                                                   temp_cache):  # noqa: F811
  import gguf  # pylint: disable=g-import-not-at-top

  path = tmp_path / "drafter.gguf"
  writer = gguf.GGUFWriter(str(path), "gemma4-assistant")
  writer.add_block_count(4)
  writer.write_header_to_file()
  writer.write_kv_data_to_file()
  writer.write_tensors_to_file()
  writer.close()
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(path, progress=lambda *a: None)
  _assert_one_line_error(excinfo, str(path), "'gemma4-assistant'",
                         "speculative-decoding assistant, not a model that "
                         "runs alone")
  assert _cache_entries(temp_cache) == []


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
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  tokenizer = keras_tasks.tokenizer_of(original[1])
  sp = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.proto)
  assert lm_lib.end_of_turn_ids(sp) == (tokenizer.token_to_id("<turn|>"),)
