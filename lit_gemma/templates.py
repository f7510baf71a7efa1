"""Prompt templates with `{{name}}` placeholders, and Gemma chat turns.

Prompt debugging is mostly editing one template and comparing versions, so a
template file (`.json` or `.yaml`) holds one template or a list of them that
may share rows. Each rendered prompt keeps its `template_id` and variables as
fields, so LIT's data table can filter and compare versions side by side.

A template file's entries:

  id                 unique name, kept as the `template_id` field
  template           text with `{{name}}` placeholders
  examples           optional few-shot rows (mappings), each rendered with
  example_template   and joined with
  example_separator  (default a blank line) into `{{examples}}`
  chat               true: wrap the prompt as a user turn + model opener, in
                     each loaded model's chat format (chat_formats.py)
  fields             optional constant fields added to every datapoint
  rows | rows_file   variable mappings, inline or from a CSV/JSONL file
                     (relative to the template file); a row's `target`,
                     `response` and `source` become those fields

Placeholders are `{{name}}` or `{{ name }}` with `name` a Python-style
identifier; values are inserted once, never rendered again. Undefined
variables are errors that name the file, template, row and variable.
"""

import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lit_gemma import chat_formats
from lit_gemma import fields
from lit_gemma.datafiles import DataError
from lit_gemma.datafiles import Row
from lit_gemma.datafiles import read_csv
from lit_gemma.datafiles import read_jsonl
from lit_gemma.datafiles import read_structured
from lit_gemma.datafiles import read_text
from lit_gemma.datafiles import resolve_under
from lit_gemma.datafiles import type_name

USER_TURN_START = "<start_of_turn>user\n"
TURN_END = "<end_of_turn>\n"
MODEL_TURN_START = "<start_of_turn>model\n"

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
EXAMPLES_VARIABLE = "examples"
DEFAULT_EXAMPLE_SEPARATOR = "\n\n"
ROWS_FILE_FORMATS = (".csv", ".jsonl")

# Fields a rendered datapoint sets itself; rows and `fields` may not set them.
_RESERVED = (fields.PROMPT, fields.TEMPLATE_ID)
_KEYS = (
    "id", "template", "examples", "example_template", "example_separator",
    "chat", "fields", "rows", "rows_file",
)


def chat_prompt(user_text: str, chat_format: str = chat_formats.DEFAULT
                ) -> str:
  """Wraps text as a user turn followed by the model turn opener."""
  return chat_formats.get(chat_format).prompt(user_text)


class UndefinedVariableError(ValueError):
  """A template uses variables that were not given."""

  def __init__(self, names: Sequence[str]):
    self.names = list(names)
    quoted = ", ".join(f"'{n}'" for n in self.names)
    plural = "s" if len(self.names) > 1 else ""
    super().__init__(f"undefined variable{plural} {quoted}")


def placeholders(text: str) -> list[str]:
  """Variable names used in `text`, first use first, each once."""
  return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def to_text(value: Any) -> str:
  """A variable's value as inserted: JSON spelling for non-strings."""
  if isinstance(value, str):
    return value
  if value is None:
    return ""
  return json.dumps(value, ensure_ascii=False)


def render(text: str, variables: Mapping[str, Any]) -> str:
  """Fills `{{name}}` placeholders; raises UndefinedVariableError."""
  missing = [n for n in placeholders(text) if n not in variables]
  if missing:
    raise UndefinedVariableError(missing)
  return PLACEHOLDER.sub(lambda m: to_text(variables[m.group(1)]), text)


@dataclasses.dataclass(frozen=True)
class Template:
  """One prompt template; see the module docstring for the fields."""

  id: str
  template: str
  examples: tuple[Mapping[str, Any], ...] = ()
  example_template: str = ""
  example_separator: str = DEFAULT_EXAMPLE_SEPARATOR
  chat: bool = False
  fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  rows: tuple[Mapping[str, Any], ...] | None = None
  rows_file: str | None = None
  path: str = ""  # The file this template came from, for messages.

  def render_examples(self) -> str:
    """The few-shot block; UndefinedVariableError names no index."""
    return self.example_separator.join(
        render(self.example_template, ex) for ex in self.examples
    )

  def render(self, variables: Mapping[str, Any],
             chat_format: str = chat_formats.DEFAULT) -> str:
    """The prompt for one row of variables (chat-wrapped if `chat`)."""
    values = dict(self.fields)
    values.update(variables)
    if self.examples:
      values[EXAMPLES_VARIABLE] = self.render_examples()
    text = render(self.template, values)
    return chat_prompt(text, chat_format) if self.chat else text


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
  from lit_gemma import parts  # pylint: disable=g-import-not-at-top

  data[fields.PROMPT_PARTS] = parts.of_template(template, row.data, prompt)
  return Row(row.path, row.line, data, context)
