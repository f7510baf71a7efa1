"""keras-hub causal-LM tasks built without TensorFlow.

keras-hub's Gemma 3, 3n and 4 causal-LM preprocessors refuse to build
without TensorFlow (`assert_tf_installed`), and lit-gemma never calls one:
it tokenizes with `sentencepiece` and gives the task's compiled generate
function token ids. So every task here is built with `preprocessor=None`,
and the preset's tokenizer (keras-hub's SentencePiece tokenizer, which
builds without TensorFlow; only its proto and special ids are read) rides
beside it. TensorFlow is not installed (see overrides.txt).
"""

from __future__ import annotations

# Kept off the Keras layer tracker (a tracked tokenizer would be saved and
# summarized as part of the model).
_ATTRIBUTE = "_lit_gemma_tokenizer"


def build(task_cls, backbone, tokenizer, **kwargs):
  """A `task_cls` (e.g. Gemma3CausalLM) over `backbone`, with no
  preprocessor, carrying `tokenizer` for `tokenizer_of`; `kwargs` go to
  the task (Gemma 4's final_logit_cap)."""
  task = task_cls(backbone=backbone, preprocessor=None, **kwargs)
  object.__setattr__(task, _ATTRIBUTE, tokenizer)
  return task


def from_preset(task_cls, preset: str, backbone, tokenizer):
  """A `task_cls` over `backbone`, as keras-hub's `from_preset` builds it
  from `preset`: the class its `task.json` names (when that is a
  `task_cls`) with the task-level settings saved there (Gemma 4's
  `final_logit_cap`), else `task_cls` with its defaults; no preprocessor.
  Gemma's tasks hold no weights beyond the backbone's.

  Raises:
    ValueError: `task.json` names a class Keras does not know.
  """
  import keras  # pylint: disable=g-import-not-at-top
  from keras_hub.src.utils import preset_utils  # pylint: disable=g-import-not-at-top

  task_file = preset_utils.TASK_CONFIG_FILE
  if not preset_utils.check_file_exists(preset, task_file):
    return build(task_cls, backbone, tokenizer)
  saved = preset_utils.load_json(preset, task_file)
  name = saved.get("registered_name")
  named = keras.saving.get_registered_object(name) if name else None
  if named is None:
    raise ValueError(f"its {task_file} names the class {name!r}, which "
                     "keras-hub does not know")
  if not (isinstance(named, type) and issubclass(named, task_cls)):
    return build(task_cls, backbone, tokenizer)
  settings = {key: value for key, value in saved.get("config", {}).items()
              if key not in ("backbone", "preprocessor")}
  return build(named, backbone, tokenizer, **settings)


def tokenizer_of(task):
  """The tokenizer of a task from `build` (or of its preprocessor, for a
  task a caller built with one)."""
  tokenizer = getattr(task, _ATTRIBUTE, None)
  if tokenizer is None and getattr(task, "preprocessor", None) is not None:
    tokenizer = task.preprocessor.tokenizer
  if tokenizer is None:
    raise ValueError(f"{type(task).__name__} has no tokenizer: build it "
                     "with lit_gemma.models.keras_tasks.build")
  return tokenizer


def save_preset(task, folder: str) -> None:
  """Saves the task and its tokenizer as a keras-hub preset folder (what a
  preprocessor would have saved: tokenizer.json and its vocabulary)."""
  task.save_to_preset(str(folder))
  tokenizer_of(task).save_to_preset(str(folder))
