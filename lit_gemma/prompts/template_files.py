"""Template files (`.json` or `.yaml`): templates and their rows, rendered
into datapoints that name the file, template, row and variable in every
error. The format is described in templates.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from lit_gemma import fields
from lit_gemma.prompts import chat_formats
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
    "chat", "fields", "rows", "rows_file",
)


def load_templates(path: str) -> list[Template]:
  """Parses and checks a template file (does not read rows files)."""
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
  templates: list[Template] = []
  seen: dict[str, int] = {}
  for index, entry in enumerate(entries):
    template = _parse(path, index, entry)
    if template.id in seen:
      raise DataError(
          path, f"template '{template.id}': duplicate id (also "
          f"templates[{seen[template.id]}])", field="id"
      )
    seen[template.id] = index
    templates.append(template)
  return templates


def _parse(path: str, index: int, entry: Any) -> Template:
  """One template entry, checked; errors name the template."""
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

  rows, rows_file = entry.get("rows"), entry.get("rows_file")
  if (rows is None) == (rows_file is None):
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
  else:
    if not isinstance(rows_file, str) or not rows_file.lower().endswith(
        ROWS_FILE_FORMATS
    ):
      raise fail("field 'rows_file' must be a path ending in .csv or .jsonl",
                 "rows_file")

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
      rows=rows,
      rows_file=rows_file,
      path=path,
  )


def render_file(path: str, root: str | None = None,
                chat_format_names: Sequence[str] = (chat_formats.DEFAULT,)
                ) -> list[Row]:
  """Renders every template of a file over its rows, as dataset records.

  Templates that share rows (one `rows_file`, or equal `rows`) are
  interleaved row by row, so versions of one prompt sit next to each other.

  Args:
    path: the template file.
    root: if set, every `rows_file` must resolve inside this folder.
    chat_format_names: the chat formats of the loaded models; a chat
      template renders once per format when there are several.

  Returns:
    One Row per (template, row), and per chat format for a chat template
    when several are given (with a `chat_format` field): `prompt`,
    `template_id`, the template's `fields` and the row's values; located at
    the row.
  """
  formats = list(dict.fromkeys(chat_format_names)) or [chat_formats.DEFAULT]
  groups: dict[str, list[Template]] = {}
  for template in load_templates(path):
    groups.setdefault(_rows_key(template), []).append(template)
  records = []
  for group in groups.values():
    rows = _read_rows(group[0], root)
    for row in rows:
      for template in group:
        if template.chat and len(formats) > 1:
          records.extend(_render_row(template, row, f, tag_format=True)
                         for f in formats)
        else:
          records.append(_render_row(template, row, formats[0]))
  return records


def _rows_file_path(template: Template) -> str:
  return os.path.join(os.path.dirname(template.path), template.rows_file)


def _rows_key(template: Template) -> str:
  if template.rows_file is not None:
    return "file:" + os.path.realpath(_rows_file_path(template))
  return "rows:" + json.dumps(template.rows, sort_keys=True, default=str)


def _read_rows(template: Template, root: str | None) -> list[Row]:
  """The template's rows, each with a context for messages."""
  if template.rows is not None:
    return [
        Row(template.path, None, dict(row), f"rows[{i}]")
        for i, row in enumerate(template.rows)
    ]
  rows_path = _rows_file_path(template)
  if root is not None:
    try:
      resolve_under(rows_path, root)
    except DataError:
      raise DataError(
          template.path, f"template '{template.id}': rows_file "
          f"'{template.rows_file}' is outside the data root "
          f"{os.path.realpath(root)}", field="rows_file",
      ) from None
  if not os.path.exists(rows_path):
    raise DataError(
        template.path, f"template '{template.id}': rows_file not found: "
        f"{rows_path}", field="rows_file",
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
