"""Template files (`.json` or `.yaml`): templates, routers (dynamic
templates, routes.py) and their rows, rendered into datapoints that name
the file, template, row and variable in every error. The format is
described in templates.py and routes.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from lit_gemma import fields
from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import routes
from lit_gemma.prompts import splits
from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import Row
from lit_gemma.prompts.files import read_csv
from lit_gemma.prompts.files import read_jsonl
from lit_gemma.prompts.files import read_structured
from lit_gemma.prompts.files import read_text
from lit_gemma.prompts.files import resolve_under
from lit_gemma.prompts.files import type_name
from lit_gemma.prompts.templates import (DEFAULT_EXAMPLE_SEPARATOR,
                                         EXAMPLES_VARIABLE, Template,
                                         UndefinedVariableError,
                                         of_template, placeholders,
                                         render)

ROWS_FILE_FORMATS = (".csv", ".jsonl")

# Fields a rendered datapoint sets itself; rows and `fields` may not set them.
_RESERVED = (fields.PROMPT, fields.TEMPLATE_ID)
_KEYS = (
    "id", "template", "examples", "example_template", "example_separator",
    "chat", "fields", "rows", "rows_file", "eval_rows_file",
)
Entry = Template | routes.Router


def load_templates(path: str) -> list[Template]:
  """Parses and checks a template file's templates (not its routers; does
  not read rows files)."""
  return [e for e in load_entries(path) if isinstance(e, Template)]


def load_entries(path: str) -> list[Entry]:
  """Parses and checks every entry of a template file: templates and
  routers, in file order (does not read rows files)."""
  doc = read_structured(path, read_text(path))
  if doc is None:
    raise DataError(path, "empty file: no templates")
  entries = [doc] if isinstance(doc, dict) else doc
  if not isinstance(entries, list):
    raise DataError(
        path, "expected a template (a mapping) or a list of templates, got "
        f"{type_name(doc)}"
    )
  if not entries:
    raise DataError(path, "no templates: the list is empty")
  parsed: list[Entry] = []
  seen: dict[str, int] = {}
  for index, entry in enumerate(entries):
    item = _parse(path, index, entry)
    if item.id in seen:
      raise DataError(
          path, f"template '{item.id}': duplicate id (also "
          f"templates[{seen[item.id]}])", field="id"
      )
    seen[item.id] = index
    parsed.append(item)
  routers = [e for e in parsed if isinstance(e, routes.Router)]
  plain = [e for e in parsed if isinstance(e, Template)]
  routes.check_targets(path, routers, [t.id for t in plain])
  named = routes.named_templates(routers)
  for template in plain:
    if template.rows is None and template.rows_file is None and (
        template.id not in named):
      raise DataError(path, f"template '{template.id}': needs exactly one "
                      "of 'rows' (a list) or 'rows_file' (a .csv or .jsonl "
                      "path)", field="rows")
  return parsed


def classifies(path: str) -> bool:
  """Whether a dataset file has a router that asks the model for labels
  (so it renders again once a model is loaded); False for other files."""
  if not str(path).lower().endswith((".json", ".yaml", ".yml")):
    return False
  return any(isinstance(e, routes.Router) and e.classify
             for e in load_entries(path))


def _parse_rows(entry: dict, fail, where: str, path: str,
                optional: bool) -> dict:
  """An entry's `rows`, `rows_file` and `eval_rows_file`, checked (none
  at all is allowed when `optional`: a template only routers use)."""
  rows, rows_file = entry.get("rows"), entry.get("rows_file")
  if rows is not None and rows_file is not None or (
      rows is None and rows_file is None and not optional):
    raise fail("needs exactly one of 'rows' (a list) or 'rows_file' "
               "(a .csv or .jsonl path)", "rows")
  if rows is not None:
    if not isinstance(rows, list):
      raise fail(f"field 'rows' must be a list, got {type_name(rows)}",
                 "rows")
    if not rows:
      raise fail("field 'rows' is empty", "rows")
    for i, row in enumerate(rows):
      if not isinstance(row, dict):
        raise DataError(
            path, f"{where}, rows[{i}]: expected a mapping of variables, got "
            f"{type_name(row)}"
        )
    rows = tuple(rows)
  for key in ("rows_file", "eval_rows_file"):
    value = entry.get(key)
    if value is not None and (not isinstance(value, str) or
                              not value.lower().endswith(ROWS_FILE_FORMATS)):
      raise fail(f"field '{key}' must be a path ending in .csv or .jsonl",
                 key)
  if entry.get("eval_rows_file") is not None and rows is None and (
      rows_file is None):
    raise fail("has 'eval_rows_file' but no 'rows' or 'rows_file' (the "
               "rows the template was written on)", "eval_rows_file")
  return {"rows": rows, "rows_file": rows_file,
          "eval_rows_file": entry.get("eval_rows_file")}


def _parse(path: str, index: int, entry: Any) -> Entry:
  """One template or router entry, checked; errors name it."""
  where = f"templates[{index}]"

  def fail(message: str, field: str | None = None) -> DataError:
    return DataError(path, f"{where}: {message}", field=field)

  if not isinstance(entry, dict):
    raise fail(
        "expected a mapping with 'id' and 'template', got "
        f"{type_name(entry)}"
    )
  if "id" not in entry:
    hint = ""
    if fields.PROMPT in entry and "template" not in entry:
      hint = " (prompt records go in a .jsonl file, one object a line)"
    raise fail(f"missing required field 'id'{hint}", "id")
  if not isinstance(entry["id"], str) or not entry["id"]:
    raise fail("field 'id' must be a non-empty string", "id")
  where = f"template '{entry['id']}'"
  if "route" in entry:
    return routes.parse(path, entry, fail,
                        _parse_rows(entry, fail, where, path, False))
  for key in entry:
    if key not in _KEYS:
      raise fail(
          f"unknown field '{key}' (expected one of: {', '.join(_KEYS)})", key
      )
  for key in ("template", "example_template", "example_separator"):
    if key in entry and not isinstance(entry[key], str):
      raise fail(f"field '{key}' must be a string, got "
                 f"{type_name(entry[key])}", key)
  if "template" not in entry:
    raise fail("missing required field 'template'", "template")
  if not isinstance(entry.get("chat", False), bool):
    raise fail("field 'chat' must be true or false", "chat")

  constants = entry.get("fields") or {}
  if not isinstance(constants, dict):
    raise fail(f"field 'fields' must be a mapping, got "
               f"{type_name(constants)}", "fields")
  for key in _RESERVED:
    if key in constants:
      raise fail(f"fields: '{key}' is reserved (set by the template)", key)

  examples = entry.get("examples")
  if examples is not None:
    if not isinstance(examples, list) or not all(
        isinstance(e, dict) for e in examples
    ):
      raise fail("field 'examples' must be a list of mappings", "examples")
    if not examples:
      raise fail("field 'examples' is empty", "examples")
    if "example_template" not in entry:
      raise fail("has 'examples' but no 'example_template'",
                 "example_template")
    if EXAMPLES_VARIABLE not in placeholders(entry["template"]):
      raise fail(
          "has 'examples' but its template has no {{examples}} placeholder",
          "examples",
      )
    for i, example in enumerate(examples):
      try:
        render(entry["example_template"], example)
      except UndefinedVariableError as e:
        raise DataError(path, f"{where}, examples[{i}]: {e}",
                        field=e.names[0]) from None
  elif "example_template" in entry:
    raise fail("has 'example_template' but no 'examples'", "examples")

  rows = _parse_rows(entry, fail, where, path, True)

  return Template(
      id=entry["id"],
      template=entry["template"],
      examples=tuple(examples or ()),
      example_template=entry.get("example_template", ""),
      example_separator=entry.get(
          "example_separator", DEFAULT_EXAMPLE_SEPARATOR
      ),
      chat=entry.get("chat", False),
      fields=constants,
      path=path,
      **rows,
  )


def render_file(path: str, root: str | None = None,
                chat_format_names: Sequence[str] = (chat_formats.DEFAULT,),
                classify: routes.Classify | None = None) -> list[Row]:
  """Renders every template and router of a file over its rows, as
  dataset records.

  Entries that share rows (one `rows_file`, or equal `rows`) are
  interleaved row by row, so versions of one prompt sit next to each other.

  Args:
    path: the template file.
    root: if set, every `rows_file` must resolve inside this folder.
    chat_format_names: the chat formats of the loaded models; a chat
      template renders once per format when there are several.
    classify: the loaded model's answer to a router's classification
      prompt (routes.Classify); None: such rows are `unclassified`.

  Returns:
    One Row per (entry, row), and per chat format for a chat template
    when several are given (with a `chat_format` field): `prompt`,
    `template_id`, the template's `fields` and the row's values (a
    router's rows also `route`); located at the row.
  """
  formats = list(dict.fromkeys(chat_format_names)) or [chat_formats.DEFAULT]
  entries = load_entries(path)
  by_id = {e.id: e for e in entries if isinstance(e, Template)}
  groups: dict[str, list[Entry]] = {}
  for entry in entries:
    if entry.rows is not None or entry.rows_file is not None:
      groups.setdefault(_rows_key(entry), []).append(entry)
  records = []
  for group in groups.values():
    for row in read_rows(group[0], root):
      for entry in group:
        template, extra = entry, {}
        if isinstance(entry, routes.Router):
          label = entry.label(row, classify)
          template = by_id[entry.template_for(label, row)]
          extra = {k: v for k, v in entry.fields.items()
                   if k not in row.data}
          extra |= {fields.TEMPLATE_ID: entry.id, fields.ROUTE: label}
        tags = formats if template.chat and len(formats) > 1 else [None]
        for tag in tags:
          record = _render_row(template, row, tag or formats[0],
                               tag_format=tag is not None)
          record.data.update(extra)
          records.append(record)
  return records


def _file_path(entry: Entry, name: str) -> str:
  return os.path.join(os.path.dirname(entry.path), name)


def _rows_key(entry: Entry) -> str:
  extra = entry.eval_rows_file and os.path.realpath(
      _file_path(entry, entry.eval_rows_file))
  if entry.rows_file is not None:
    return json.dumps(["file", os.path.realpath(
        _file_path(entry, entry.rows_file)), extra])
  return json.dumps(["rows", entry.rows, extra], sort_keys=True, default=str)


def read_rows(entry: Entry, root: str | None = None) -> list[Row]:
  """The entry's rows, each with a context for messages, then its
  evaluation rows (`split: eval`)."""
  if entry.rows is not None:
    rows = [Row(entry.path, None, dict(row), f"rows[{i}]")
            for i, row in enumerate(entry.rows)]
  else:
    rows = _read_file(entry, "rows_file", root)
  if entry.eval_rows_file is None:
    return rows
  evals = _read_file(entry, "eval_rows_file", root)
  for row in evals:
    if splits.of_row(row) == fields.DEV:
      raise row.error(f"a row of eval_rows_file says '{fields.SPLIT}: "
                      f"{fields.DEV}' (every row there is evaluation data)",
                      fields.SPLIT)
    row.data[fields.SPLIT] = fields.EVAL
  return rows + evals


def _read_file(entry: Entry, key: str, root: str | None) -> list[Row]:
  """The rows of the entry's `rows_file` or `eval_rows_file`."""
  name = getattr(entry, key)
  rows_path = _file_path(entry, name)
  if root is not None:
    try:
      resolve_under(rows_path, root)
    except DataError:
      raise DataError(
          entry.path, f"template '{entry.id}': {key} '{name}' is outside "
          f"the data root {os.path.realpath(root)}", field=key,
      ) from None
  if not os.path.exists(rows_path):
    raise DataError(
        entry.path, f"template '{entry.id}': {key} not found: "
        f"{rows_path}", field=key,
    )
  text = read_text(rows_path)
  reader = read_csv if rows_path.lower().endswith(".csv") else read_jsonl
  return list(reader(rows_path, text))


def _render_row(template: Template, row: Row,
                chat_format: str = chat_formats.DEFAULT,
                tag_format: bool = False) -> Row:
  """One datapoint: the row's values, template fields, prompt and id."""
  if row.line is None:  # Inline row: the template file, index in rows.
    context = f"template '{template.id}', {row.context}"
  else:
    context = f"template '{template.id}' in {template.path}"
  located = Row(row.path, row.line, row.data, context)
  for key in _RESERVED:
    if key in row.data:
      raise located.error(
          f"field '{key}' is reserved in template rows (the template sets "
          "it)", key
      )
  if template.examples and EXAMPLES_VARIABLE in row.data:
    raise located.error(
        "field 'examples' clashes with the template's few-shot examples",
        EXAMPLES_VARIABLE,
    )
  try:
    prompt = template.render(row.data, chat_format)
  except UndefinedVariableError as e:
    raise located.error(str(e), e.names[0]) from None
  data = {fields.TEMPLATE_ID: template.id}
  data.update(template.fields)
  data.update(row.data)
  data[fields.PROMPT] = prompt
  if tag_format:
    data[chat_formats.FIELD] = chat_format
  data[fields.PROMPT_PARTS] = of_template(template, row.data, prompt)
  return Row(row.path, row.line, data, context)
