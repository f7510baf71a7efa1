"""LIT datasets of prompts, loaded from JSONL, CSV, text or template files.

The server, the notebook and the UI's "load dataset" form all go through
`load()`, so every format gives the same spec contract:

  prompt    TextSegment, required
  target    TextSegment, optional; always present ("" when not given)
  response  TextSegment, optional; only when the file has it. A non-empty
            response is shown instead of generating one.
  source    CategoryLabel, optional; only when the file has it
  paired_target, is_preferred, prompt_parts
            typed as `fields.model_read_spec()` says (read by models)
  others    metadata columns for LIT's data table: numbers present in every
            row -> Scalar; otherwise text: short one-line values ->
            CategoryLabel (filterable), longer ones -> String. Missing values
            become "", so every example has every field.

Formats, by extension: `.jsonl` (one object a line), `.csv` (header row),
`.txt` (one prompt a line; blank lines skipped; `\\n`, `\\t`, `\\\\` escapes),
`.json`/`.yaml`/`.yml` (prompt templates, see prompts/templates.py). A JSONL or CSV
file with `query` and no `prompt` is a tuning set (tuning/sets.py): its
`response` is the tuning target, given as `target`, never shown instead. Bad input raises
`DataError`, one line naming file, line and field; an empty file is an error
too (an empty table is always a mistake). No row is ever dropped.

This module must stay light: no Keras, JAX or model code, so data loads fast
and without a model.
"""

import itertools
import json
import math
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional

from absl import logging
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.api import types as lit_types

from lit_gemma.prompts import chat_formats
from lit_gemma import fields
from lit_gemma.prompts import splits
from lit_gemma.prompts import name_pairs
from lit_gemma.prompts import routes
from lit_gemma.prompts import templates
from lit_gemma.prompts import template_files
from lit_gemma.tuning import sets
from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import Row
from lit_gemma.prompts.files import read_csv
from lit_gemma.prompts.files import read_jsonl
from lit_gemma.prompts.files import read_text
from lit_gemma.prompts.files import read_txt
from lit_gemma.prompts.files import resolve_under
from lit_gemma.prompts.files import type_name

__all__ = [
    "BUNDLED_DIR", "BUNDLED_FILES", "DEFAULT_DATASETS", "FORMATS",
    "LOADER_NAME", "DataError", "PromptDataset", "core_spec",
    "dataset_loaders", "from_rows", "load", "load_datasets",
    "parse_datasets_flag",
]

# The bundled sets live at the repository root, beside the package.
BUNDLED_DIR = pathlib.Path(__file__).resolve().parents[1] / "bundled_sets"
BUNDLED_FILES = {
    "fewshot_mistakes": "fewshot_mistakes.yaml",
    "summarization": "summarization.yaml",
    "safety_probes": "safety_probes.jsonl",
    "preference_pairs": "preference_pairs.jsonl",
    "arithmetic": "arithmetic.csv",
    # Tuning sets (tuning/sets.py); planted hygiene cases in
    # tuning_manifest.json.
    "tuning_sft": "tuning_sft.jsonl",
    "tuning_prompts": "tuning_prompts.csv",
    "tuning_eval": "tuning_eval.jsonl",
}
DEFAULT_DATASETS = [f"{n}:{BUNDLED_DIR / f}" for n, f in BUNDLED_FILES.items()]

TEMPLATE_FORMATS = (".json", ".yaml", ".yml")
FORMATS = (".jsonl", ".csv", ".txt") + TEMPLATE_FORMATS
REQUIRED_FIELD = fields.PROMPT
OPTIONAL_FIELDS = (fields.RESPONSE, fields.SOURCE)  # In the spec only when given.
CATEGORY_MAX_CHARS = 60
# `target_mask` is an input of the salience model: a dataset column of that
# name would be sent to it. LIT keeps `_id`, `_meta` and friends.
RESERVED_FIELDS = (fields.TARGET_MASK,)

Spec = lit_types.Spec
JsonDict = lit_types.JsonDict


class PromptDataset(lit_dataset.Dataset):
  """Prompts, with optional targets and responses, for generation + salience."""

  def __init__(
      self,
      examples: list[JsonDict],
      spec: Spec,
      path: str = "",
      description: str | None = None,
  ):
    super().__init__(spec=spec, examples=examples, description=description)
    self._path = path

  @property
  def path(self) -> str:
    return self._path

  @classmethod
  def init_spec(cls) -> None:
    """Not built from the UI by class; see `dataset_loaders()`."""
    return None


def core_spec() -> Spec:
  """The fields every format shares (response and source when present)."""
  return fields.dataset_spec()


def from_rows(rows: Iterable[Row]) -> tuple[list[JsonDict], Spec]:
  """Checks records and gives LIT examples (all with the same fields) + spec."""
  rows = list(rows)
  present: dict[str, None] = {}  # Field names, first seen first.
  for row in rows:
    for key in row.data:
      present.setdefault(key, None)
  for key in present:
    bad = next(r for r in rows if key in r.data)
    if not isinstance(key, str):
      raise bad.error(f"field names must be text, got {type_name(key)}")
    if not key:
      raise bad.error("empty field name")
    if key.startswith("_") or key in RESERVED_FIELDS:
      raise bad.error(f"field '{key}' is a reserved name; rename it", key)

  examples: list[JsonDict] = [{} for _ in rows]
  for row, example in zip(rows, examples):
    example[fields.PROMPT] = _text(row, REQUIRED_FIELD, required=True)
    if fields.SPLIT in row.data:
      row.data[fields.SPLIT] = splits.of_row(row)
    example[fields.TARGET] = _text(row, fields.TARGET)
  spec = fields.input_spec()
  for field in OPTIONAL_FIELDS:
    if field in present:
      spec[field] = core_spec()[field]
      for row, example in zip(rows, examples):
        example[field] = _text(row, field)

  fixed = fields.model_read_spec() | fields.declared_spec()
  for field in present:
    if field in spec:
      continue
    values = [row.data.get(field) for row in rows]
    if field in fixed:  # read by a model: its type is the model's
      spec[field] = fixed[field]
      values = [templates.to_text(v) for v in values]
    elif all(
        isinstance(v, (int, float)) and not isinstance(v, bool)
        and math.isfinite(v) for v in values
    ):
      spec[field] = lit_types.Scalar(
          min_val=min(values), max_val=max(values), required=False
      )
    else:
      values = [templates.to_text(v) for v in values]  # Missing -> "".
      short = all(len(v) <= CATEGORY_MAX_CHARS and "\n" not in v
                  for v in values)
      spec[field] = (lit_types.CategoryLabel(required=False) if short
                     else lit_types.String(required=False))
    for example, value in zip(examples, values):
      example[field] = value

  _warn_duplicates(rows, examples)
  return examples, spec


def _text(row: Row, field: str, required: bool = False) -> str:
  """A text field's value: strings as they are, numbers spelled as JSON."""
  if field not in row.data:
    if required:
      raise row.error(f"missing required field '{field}'", field)
    return ""
  value = row.data[field]
  if isinstance(value, str):
    return value
  if value is None and not required:
    return ""
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    return templates.to_text(value)
  raise row.error(
      f"field '{field}' must be text, got {type_name(value)}", field
  )


def _warn_duplicates(rows: list[Row], examples: list[JsonDict]) -> None:
  """Identical examples get one LIT id; say so rather than lose one quietly."""
  seen: dict[str, Row] = {}
  for row, example in zip(rows, examples):
    key = json.dumps(example, sort_keys=True)
    if key in seen:
      first = seen[key]
      logging.warning(
          "%s:%s: same fields as %s:%s; LIT gives identical examples one id",
          row.path, row.line, first.path, first.line,
      )
    else:
      seen[key] = row


def _check_max_examples(max_examples: Any) -> int | None:
  if max_examples is None:
    return None
  if (isinstance(max_examples, bool)
      or not isinstance(max_examples, (int, float))
      or not math.isfinite(max_examples)
      or max_examples != int(max_examples) or max_examples < 1):
    raise ValueError(
        f"max_examples must be a whole number >= 1, got {max_examples!r}"
    )
  return int(max_examples)


def load(
    path: str | os.PathLike[str],
    name: str | None = None,
    max_examples: int | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    chat_format_names: Sequence[str] = (chat_formats.DEFAULT,),
    query_template: sets.QueryTemplate = None,
    classify: routes.Classify | None = None,
) -> PromptDataset:
  """Loads a prompt file as a LIT dataset, choosing the format by extension.

  Args:
    path: a .jsonl, .csv, .txt, .json, .yaml or .yml file.
    name: shown in the description.
    max_examples: keep the first N examples (None: all).
    root: if set, template `rows_file`s must resolve inside it (the UI
      loader's data root; `path` itself is checked by the caller).
    chat_format_names: the chat formats of the loaded models: a chat
      template renders once per format (see prompts/chat_formats.py).
    query_template: for tuning sets, how a query becomes the prompt (see
      tuning/sets.py; None: Gemma chat turns).
    classify: a loaded model's answer to a dynamic template's
      classification prompt (prompts/routes.py); None: such rows are
      `unclassified`.

  Returns:
    A PromptDataset.

  Raises:
    DataError: a missing file, an unknown extension or bad content.
  """
  path = os.fspath(path)
  limit = _check_max_examples(max_examples)
  ext = os.path.splitext(path)[1].lower()
  if ext not in FORMATS:
    shown = f"'{ext}'" if ext else "(no extension)"
    raise DataError(
        path, f"unknown dataset format {shown}; expected one of: "
        f"{', '.join(FORMATS)}"
    )
  if ext in TEMPLATE_FORMATS:
    records = template_files.render_file(
        path, root=None if root is None else os.fspath(root),
        chat_format_names=chat_format_names, classify=classify)
    total = len(records)
    records = records[:limit]
    kind = "template prompts"
  else:
    text = read_text(path)
    rows, kind = _tuning_rows(path, ext, text, query_template,
                              chat_format_names)
    if rows is None:
      rows = (read_csv(path, text, required=(REQUIRED_FIELD,)) if ext == ".csv"
              else read_jsonl(path, text) if ext == ".jsonl"
              else read_txt(path, text))
      kind = "examples"
    records = list(itertools.islice(rows, limit))
    total = None
  examples, spec = from_rows(records)
  description = f"{len(examples)} {kind} from {path}"
  if total is not None and total > len(examples):
    description += f" (first {len(examples)} of {total})"
  if name:
    description = f"{name}: {description}"
  return PromptDataset(examples, spec, path=path, description=description)


def _tuning_rows(path, ext, text, query_template, chat_format_names):
  """Hook for tuning sets (`query`, no `prompt`; see tuning/sets.py):
  (datapoint records, kind), or (None, None) for any other file."""
  if ext not in sets.FORMATS:
    return None, None
  rows = sets.read_rows(path, text)
  if not sets.is_tuning_set(path, sets.columns(rows)):
    return None, None
  shape, records = sets.records(path, rows, query_template,
                                       chat_format_names)
  return iter(records), f"{shape} datapoints"


_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def parse_datasets_flag(value: str | Sequence[str]) -> list[tuple[str, str]]:
  """`NAME:PATH,...` (or bare PATHs, named by file stem) -> [(name, path)].

  Accepts the flag's string or an already split list. Paths cannot contain
  commas; a NAME is letters, digits, `_`, `.` or `-`.
  """
  return name_pairs.parse(
      value, what="path", example="mine:prompts.jsonl", kind="dataset",
      error=lambda message: DataError("--datasets", message),
      name_pattern=_NAME, bare_name=lambda entry: pathlib.Path(entry).stem)


def load_datasets(
    value: str | Sequence[str], max_examples: int | None = None
) -> dict[str, PromptDataset]:
  """Loads every dataset named by a `--datasets` flag value, in order."""
  return {
      name: load(path, name=name, max_examples=max_examples)
      for name, path in parse_datasets_flag(value)
  }


LOADER_NAME = "prompt_file"


def dataset_loaders(
    data_root: str | os.PathLike[str] | None,
) -> dict[str, tuple[Callable[..., PromptDataset], Spec]]:
  """Loaders for `lit_nlp.dev_server.Server(dataset_loaders=...)`.

  The one loader, `prompt_file`, reads a path typed in the UI: relative paths
  are taken from `data_root`; after resolving symlinks and `..`, any path
  outside `data_root` is refused, as is every path when `data_root` is None.
  Template files may only name `rows_file`s inside `data_root` too.
  """

  def prompt_file(
      path: str, max_examples: Optional[int] = None
  ) -> PromptDataset:
    resolved = resolve_under(path, data_root)
    return load(resolved, name=path, max_examples=max_examples,
                root=data_root)

  prompt_file.__name__ = "PromptFile"
  spec: Spec = {
      "path": lit_types.String(default="", required=True),
      "max_examples": lit_types.Integer(
          default=1000, min_val=1, max_val=100_000, required=False
      ),
  }
  return {LOADER_NAME: (prompt_file, spec)}
