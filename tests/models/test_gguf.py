"""Tests for lit_gemma.models.gguf: the embedded Gemma 3 270M against independent
truth numbers, the tokenizer rebuilt from the GGUF vocabulary, the cache
protocol (races, warm starts) and one-line errors on bad inputs.

Truth numbers come from an independent float32 PyTorch load of the same
GGUF (issue 3; tests/data/gemma3_270m_long_text.json).
"""

import functools
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import sentencepiece

import lit_gemma  # noqa: F401  (JAX backend before Keras)
from lit_gemma.models import keras_tasks
from lit_gemma.models import gguf as lg_gguf
from lit_gemma.serve import prepare
from lit_gemma.models.gguf import cache as gguf_cache
from lit_gemma.models.gguf import conversion as gguf_conversion
from lit_gemma.models.gguf import embedded as gguf_embedded
from lit_gemma.models.gguf import reader as gguf_reader
from lit_gemma.models.gguf import registry as gguf_registry
from lit_gemma import paths
from lit_gemma.models import sources
import repo
import gguf_checks

DATA = repo.DATA
REPO = repo.ROOT

real_model = pytest.mark.real_model


# ----------------------------------------------------------------------------
# Helpers.


def _ids(lm, text: str) -> list[int]:
  """Token ids with BOS, as the preprocessor feeds them to the model."""
  tokenizer = keras_tasks.tokenizer_of(lm)
  return [tokenizer.start_token_id] + np.asarray(tokenizer(text)).tolist()


@functools.lru_cache(maxsize=1)
def _gguf_vocabulary() -> tuple[str, ...]:
  import gguf  # pylint: disable=g-import-not-at-top

  field = gguf.GGUFReader(gguf_embedded.embedded_gguf_path()).fields[
      "tokenizer.ggml.tokens"]
  return tuple(bytes(field.parts[i]).decode("utf-8") for i in field.data)


def _gguf_spelling(ids: list[int]) -> str:
  """The text `ids` spell in the GGUF's vocabulary: U+2581 is a space and
  `<0xNN>` pieces are bytes (no dummy prefix in Gemma 3)."""
  vocabulary = _gguf_vocabulary()
  out = bytearray()
  for i in ids:
    piece = vocabulary[i]
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
      out.append(int(piece[3:5], 16))
    else:
      out += piece.replace("\u2581", " ").encode("utf-8")
  return out.decode("utf-8")


def _next_token_nll(lm, ids: list[int]):
  """(log-probs at the last position, nll of every next token), float32,
  computed with the backbone and its tied output projection."""
  import jax  # pylint: disable=g-import-not-at-top

  x = np.asarray([ids], dtype="int32")
  hidden = lm.backbone({"token_ids": x, "padding_mask": np.ones_like(x)})
  logits = lm.backbone.token_embedding(hidden, reverse=True)[0]
  logits = jax.numpy.asarray(logits, dtype="float32")
  log_z = jax.nn.logsumexp(logits, axis=-1)
  last = np.asarray(logits[-1] - log_z[-1])
  nll = np.asarray(log_z[:-1] - logits[np.arange(len(ids) - 1),
                                       np.asarray(ids[1:])])
  return last, nll


_write_tiny_gguf = gguf_checks.write_tiny_gguf


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> pathlib.Path:
  return _write_tiny_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


# ----------------------------------------------------------------------------
# The real model: tokenizer.


@real_model
def test_token_ids_match_independent_tokenizer(embedded_lm):
  assert _ids(embedded_lm, "The capital of France is") == [
      2, 818, 5279, 529, 7001, 563]
  # The product's own path (`sentencepiece` on the proto) gives the same.
  sp = sentencepiece.SentencePieceProcessor(
      model_proto=keras_tasks.tokenizer_of(embedded_lm).proto)
  assert sp.encode("The capital of France is") == [818, 5279, 529, 7001, 563]


@real_model
def test_chat_turn_markers_are_single_tokens(embedded_lm):
  tokenizer = keras_tasks.tokenizer_of(embedded_lm)
  assert np.asarray(tokenizer("<start_of_turn>")).tolist() == [105]
  assert np.asarray(tokenizer("<end_of_turn>")).tolist() == [106]
  ids = np.asarray(tokenizer("<start_of_turn>user\nHi<end_of_turn>\n"))
  assert ids.tolist()[0] == 105 and 106 in ids.tolist()


ROUND_TRIPS = {
    "ascii": "Hello, world! The quick brown fox (42) jumps.",
    "newlines": "line one\nline two\n\n\nafter three\n",
    "space_runs": "x    y  z   end     ",
    "leading_spaces": "   leading and trailing   ",
    "tabs": "\tindented\t\ttwo tabs\t",
    "code": "def f(x):\n    return {'k': x**2}  # sq\n\nif f(3) != 9:\n  raise",
    "accented": "Café naïve über façade, São Paulo, Ångström",
    "cjk": "日本語のテキストと中文文本，한국어",
    "emoji": "emoji 😀🎉👍🏽 and 👩‍👩‍👧",
}


@real_model
@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_decode_encode_round_trip(embedded_lm, name):
  tokenizer = keras_tasks.tokenizer_of(embedded_lm)
  text = ROUND_TRIPS[name]
  ids = np.asarray(tokenizer(text)).tolist()
  assert tokenizer.detokenize(ids) == text
  assert tokenizer.token_to_id("<unk>") not in ids
  # Independently of SentencePiece: the ids spell the text in the GGUF's
  # own vocabulary, read with the `gguf` package.
  assert _gguf_spelling(ids) == text


# ----------------------------------------------------------------------------
# The real model: numbers.


@real_model
def test_next_token_distribution(embedded_lm):
  last, _ = _next_token_nll(embedded_lm, _ids(embedded_lm,
                                              "The capital of France is"))
  top = np.argsort(-last)[:5]
  assert top.tolist() == [506, 496, 9079, 886, 3224]
  np.testing.assert_allclose(last[top],
                             [-1.654, -2.198, -2.477, -2.632, -2.962],
                             atol=0.01)


@real_model
def test_mean_nll_short_sentence(embedded_lm):
  ids = _ids(embedded_lm, "Water is made of hydrogen and oxygen atoms.")
  assert len(ids) == 10
  _, nll = _next_token_nll(embedded_lm, ids)
  assert nll.mean() == pytest.approx(3.056, abs=0.01)


@real_model
def test_long_text_sliding_window_and_global_layers(embedded_lm):
  ref = json.loads((DATA / "gemma3_270m_long_text.json").read_text())
  ids = _ids(embedded_lm, ref["text"])
  assert len(ids) == ref["n_tokens_with_bos"]
  _, nll = _next_token_nll(embedded_lm, ids)
  assert nll.mean() == pytest.approx(ref["mean_nll_all"],
                                     abs=ref["tolerance"])
  assert nll[512:].mean() == pytest.approx(ref["mean_nll_tail"],
                                           abs=ref["tolerance"])


@real_model
def test_converted_config(embedded_lm):
  backbone = embedded_lm.backbone
  assert backbone.sliding_window_size == 512
  assert backbone.dtype_policy.name == "float32"
  global_layers = [i for i, block in enumerate(backbone.transformer_layers)
                   if not block.use_sliding_window_attention]
  assert global_layers == [5, 11, 17]
  assert [backbone.transformer_layers[i].rope_wavelength
          for i in (0, 5)] == [10_000.0, 1_000_000.0]


# ----------------------------------------------------------------------------
# The cache: races and warm starts.

_RACER = textwrap.dedent("""
    import pathlib, sys, time
    from lit_gemma.models import gguf
    go = pathlib.Path(sys.argv[1])
    while not go.exists():
      time.sleep(0.01)
    source = sys.argv[2]
    if source == "embedded":
      print(gguf.embedded_preset())
    else:
      print(gguf.cached_preset(source))
""")


def _race(tmp_path: pathlib.Path, source: str) -> tuple[pathlib.Path, list]:
  """Starts two conversions of `source` into one empty cache at the same
  instant; returns the cache and each process's (returncode, out, err)."""
  cache = tmp_path / "race_cache"
  env = dict(os.environ, **{paths.CACHE_ENV: str(cache)})
  go = tmp_path / "go"
  racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(go), source],
                             env=env, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
  time.sleep(1.0)  # Both are waiting on `go` by now.
  go.touch()
  results = []
  for p in racers:
    out, err = p.communicate(timeout=900)
    results.append((p.returncode, out, err))
  return cache, results


def _assert_one_valid_cache(cache: pathlib.Path, results: list,
                            other_entries: list[str]) -> pathlib.Path:
  for returncode, _, err in results:
    assert returncode == 0, err[-2000:]
    # Both really converted (neither found the other's finished cache).
    assert "saved the preset" in err, err[-2000:]
  presets = {out.strip().splitlines()[-1] for _, out, _ in results}
  assert len(presets) == 1
  preset = pathlib.Path(presets.pop())
  assert lg_gguf.is_valid_preset(preset)
  # The loser's temporary folder is gone.
  assert gguf_checks.cache_entries(cache) == sorted([preset.name] + other_entries)
  return preset


def test_two_conversions_at_once_leave_one_valid_cache(tiny_gguf, tmp_path):
  cache, results = _race(tmp_path, str(tiny_gguf))
  _assert_one_valid_cache(cache, results, [])


@real_model
@pytest.mark.skipif(not os.environ.get("LIT_GEMMA_SLOW_TESTS"),
                    reason="about 2 minutes on 2 cores; set "
                    "LIT_GEMMA_SLOW_TESTS=1")
def test_two_real_conversions_at_once_leave_one_valid_cache(tmp_path):
  """The same race with the real embedded file, assembly included."""
  cache, results = _race(tmp_path, "embedded")
  _assert_one_valid_cache(cache, results, ["gemma-3-270m-q4_k_m.gguf"])


def test_warm_embedded_start_reads_no_gguf(temp_cache, monkeypatch):
  """A warm start trusts the marker: it neither assembles nor hashes."""
  sha = gguf_embedded.package().EXPECTED_SHA256
  preset = lg_gguf.preset_dir_for(sha)
  preset.mkdir(parents=True)
  (preset / lg_gguf.MARKER).write_text("{}")

  def forbidden(*args):
    raise AssertionError(f"warm start read the GGUF: {args}")

  monkeypatch.setattr(gguf_embedded, "embedded_gguf_path", forbidden)
  monkeypatch.setattr(gguf_cache, "sha256_file", forbidden)
  monkeypatch.setattr(gguf_conversion, "convert", forbidden)
  assert lg_gguf.embedded_preset() == preset


# ----------------------------------------------------------------------------
# Small GGUF files: conversion paths and errors.


def test_tiny_gemma3_converts_once_in_both_dtypes(tiny_gguf, temp_cache,
                                                  monkeypatch):
  import keras_hub  # pylint: disable=g-import-not-at-top

  steps = []
  preset = lg_gguf.cached_preset(tiny_gguf,
                                 progress=lambda *a: steps.append(a))
  assert lg_gguf.is_valid_preset(preset)
  assert steps[-1][0] == steps[-1][1] == 2 * 13 + 2 + 2  # tensors + 2 steps
  lm, _ = sources.load_causal_lm(str(preset))
  assert isinstance(lm, keras_hub.models.Gemma3CausalLM)
  tokenizer = keras_tasks.tokenizer_of(lm)
  assert np.asarray(tokenizer("a  b")).tolist() == [263, 266, 264]
  norm = lm.backbone.transformer_layers[0].pre_attention_norm.scale
  assert np.abs(np.asarray(norm)).max() < 0.5  # llama.cpp's +1 removed

  # The second call neither converts nor hashes the file again.
  def forbidden(*args):
    raise AssertionError(f"converted or hashed again: {args}")

  with monkeypatch.context() as patch:
    patch.setattr(gguf_cache, "sha256_file", forbidden)
    patch.setattr(gguf_conversion, "convert", forbidden)
    assert lg_gguf.cached_preset(tiny_gguf) == preset

  bf16 = lg_gguf.cached_preset(tiny_gguf, dtype="bfloat16",
                               progress=lambda *a: None)
  assert bf16 != preset
  config = json.loads((bf16 / "config.json").read_text())
  assert config["config"]["dtype"]["config"]["name"] == "bfloat16"


def test_other_architecture_is_refused(tmp_path, temp_cache):
  path = _write_tiny_gguf(tmp_path / "llama.gguf", arch="llama")
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(path, progress=lambda *a: None)
  gguf_checks.assert_one_line_error(excinfo, str(path), "architecture 'llama' is not "
                         "supported")
  assert gguf_checks.cache_entries(temp_cache) == []


def test_registry_refuses_unknown_architecture(tmp_path):
  """The family registry names the file and the architecture it found."""
  path = _write_tiny_gguf(tmp_path / "qwen.gguf", arch="qwen2")
  meta = gguf_reader.Meta(gguf_reader.open_gguf(path), path)
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    gguf_registry.lookup(meta, path)
  supported = ", ".join(repr(a) for a in gguf_registry.architectures())
  assert str(excinfo.value) == (
      f"{path}: architecture 'qwen2' is not supported (lit-gemma converts "
      f"{supported} GGUF files only)")
  assert "'gemma3'" in supported


@pytest.mark.parametrize("cut", ["header", "tensor_data"])
def test_truncated_gguf_is_refused(tiny_gguf, tmp_path, temp_cache, cut):
  data = tiny_gguf.read_bytes()
  keep = 4000 if cut == "header" else len(data) - 100
  path = tmp_path / f"cut_{cut}.gguf"
  path.write_bytes(data[:keep])
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(path, progress=lambda *a: None)
  gguf_checks.assert_one_line_error(excinfo, str(path), "truncated")
  assert gguf_checks.cache_entries(temp_cache) == []


def test_corrupt_gguf_is_refused(tmp_path, temp_cache):
  path = tmp_path / "garbage.gguf"
  path.write_bytes(np.random.default_rng(1).bytes(100_000))
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(path, progress=lambda *a: None)
  gguf_checks.assert_one_line_error(excinfo, str(path), "not a readable GGUF file")
  assert gguf_checks.cache_entries(temp_cache) == []


@pytest.mark.parametrize("problem,message", [
    ("int_tensor", "tensor blk.0.attn_norm_int.weight has unsupported type "
     "I32"),
    ("extra_tensor", "has no place for: rope_freqs.weight"),
    ("pattern", "global attention layers [0] differ from keras-hub's fixed "
     "[]"),
])
def test_unmappable_gemma3_is_refused(tmp_path, temp_cache, problem, message):
  path = _write_tiny_gguf(
      tmp_path / f"{problem}.gguf", int_tensor=problem == "int_tensor",
      extra_tensor="rope_freqs.weight" if problem == "extra_tensor" else None,
      pattern=[False, True] if problem == "pattern" else None)
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(path, progress=lambda *a: None)
  gguf_checks.assert_one_line_error(excinfo, str(path), message)
  assert gguf_checks.cache_entries(temp_cache) == []


def test_unwritable_cache_dir_is_refused(tiny_gguf, tmp_path, monkeypatch):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a folder")
  monkeypatch.setenv(paths.CACHE_ENV, str(blocker / "cache"))
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(tiny_gguf, progress=lambda *a: None)
  gguf_checks.assert_one_line_error(excinfo, str(blocker / "cache" / "models"),
                         "cannot create the model cache",
                         paths.CACHE_ENV)


def test_read_only_cache_dir_is_refused(tiny_gguf, tmp_path, monkeypatch):
  models = tmp_path / "cache" / "models"
  models.mkdir(parents=True)
  models.chmod(0o500)
  if os.access(models, os.W_OK):
    models.chmod(0o700)
    pytest.skip("this user may write into read-only folders (root)")
  monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
  try:
    with pytest.raises(lg_gguf.GGUFError) as excinfo:
      lg_gguf.cached_preset(tiny_gguf, progress=lambda *a: None)
  finally:
    models.chmod(0o700)
  gguf_checks.assert_one_line_error(excinfo, str(models), "not writable")
  assert gguf_checks.cache_entries(tmp_path / "cache") == []


def test_failed_save_leaves_no_half_written_cache(tiny_gguf, temp_cache,
                                                  monkeypatch):
  import keras_hub  # pylint: disable=g-import-not-at-top

  def disk_full(self, preset_dir, **kwargs):
    (pathlib.Path(preset_dir) / "model.weights.h5").write_bytes(b"partial")
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(keras_hub.models.Gemma3CausalLM, "save_to_preset",
                      disk_full)
  with pytest.raises(lg_gguf.GGUFError) as excinfo:
    lg_gguf.cached_preset(tiny_gguf, progress=lambda *a: None)
  gguf_checks.assert_one_line_error(excinfo, "No space left on device",
                         "nothing was cached")
  assert gguf_checks.cache_entries(temp_cache) == []


def test_prepare_cli_prints_one_line_on_error(tmp_path):
  path = _write_tiny_gguf(tmp_path / "llama.gguf", arch="llama")
  env = dict(os.environ, **{paths.CACHE_ENV: str(tmp_path / "cache")})
  result = subprocess.run(
      [sys.executable, "-m", "lit_gemma.serve.prepare", "--gguf", str(path)],
      env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 1
  assert result.stdout == ""
  assert "Traceback" not in result.stderr
  lines = result.stderr.strip().splitlines()
  assert all(line.startswith("lit-gemma: converting") for line in lines[:-1])
  assert lines[-1] == (f"lit-gemma prepare: {path}: architecture 'llama' is "
                       "not supported (lit-gemma converts 'gemma3', "
                       "'gemma4' GGUF files only)")
  assert gguf_checks.cache_entries(tmp_path / "cache") == []


def test_prepare_cli_refuses_dtype(capsys):
  """prepare writes exactly what the server reads, so it takes no dtype."""
  with pytest.raises(SystemExit) as excinfo:
    prepare.main(["--dtype", "bfloat16"])
  assert excinfo.value.code == 2
  assert "unrecognized arguments: --dtype bfloat16" in capsys.readouterr().err


# ----------------------------------------------------------------------------
# The model layer checks every source before converting any.


def test_a_bad_second_source_is_refused_before_the_first_converts(
    tiny_gguf, temp_cache):
  from lit_gemma.models import loading  # pylint: disable=g-import-not-at-top

  with pytest.raises(sources.SourceError) as e:
    loading.load_models((("first", str(tiny_gguf)),
                         ("second", "/no/such/model.gguf")))
  gguf_checks.assert_one_line_error(e, "'/no/such/model.gguf'", "no such GGUF file")
  converted = list((temp_cache / "models").glob("*")) if (
      temp_cache / "models").exists() else []
  assert converted == []
  # The good source alone converts (so the check above could have failed).
  (lm,) = loading.load_models((("first", str(tiny_gguf)),)).values()
  assert [p.name for p in (temp_cache / "models").iterdir()
          if lg_gguf.is_valid_preset(p)]
  assert lm.source.spec == str(tiny_gguf)
