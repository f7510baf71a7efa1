"""Prompt templates with `{{name}}` placeholders, and Gemma chat turns:
what a template is and how it renders (template_files.py reads them).

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
                     `response`, `source` and `split` become those fields
  eval_rows_file     optional: a CSV/JSONL file of evaluation rows (each
                     gets `split: eval`), kept apart from the rows the
                     template was written on; a template only a router
                     names (routes.py) needs no rows

Placeholders are `{{name}}` or `{{ name }}` with `name` a Python-style
identifier; values are inserted once, never rendered again. Undefined
variables are errors that name the file, template, row and variable.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import parts

USER_TURN_START = "<start_of_turn>user\n"
TURN_END = "<end_of_turn>\n"
MODEL_TURN_START = "<start_of_turn>model\n"

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
EXAMPLES_VARIABLE = "examples"
DEFAULT_EXAMPLE_SEPARATOR = "\n\n"



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
  eval_rows_file: str | None = None  # more rows, every one `split: eval`
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


def of_template(template: "Template",
                variables: Mapping[str, Any], prompt: str) -> list[list]:
  """[start, end, label] spans of `prompt`, what `template.render` gave for
  `variables` (template_files.py calls this for each datapoint): the template's
  own text, each few-shot example, each `{{variable}}`. Whatever wraps the
  filled template (chat turns) counts as the template's own text, so this
  holds for any chat format."""
  values = dict(template.fields)
  values.update(variables)
  pieces, at = [], 0
  matches = list(PLACEHOLDER.finditer(template.template))
  for match in matches + [None]:
    end = match.start() if match else len(template.template)
    pieces.append((template.template[at:end], parts.TEMPLATE))
    if match is None:
      break
    at, name = match.end(), match.group(1)
    if name == EXAMPLES_VARIABLE and template.examples:
      for i, example in enumerate(template.examples):
        if i:
          pieces.append((template.example_separator, parts.TEMPLATE))
        pieces.append((render(template.example_template, example),
                       parts.example_label(i)))
    else:
      pieces.append((to_text(values[name]), parts.variable_label(name)))
  filled = "".join(text for text, _ in pieces)
  start = prompt.find(filled)
  if start < 0:
    raise ValueError(f"template '{template.id}': the rendered prompt does "
                     "not contain the filled template")
  pieces = ([(prompt[:start], parts.TEMPLATE)] + pieces
            + [(prompt[start + len(filled):], parts.TEMPLATE)])
  spans, offset = [], 0
  for text, label in pieces:
    if not text:
      continue
    if spans and spans[-1][2] == label == parts.TEMPLATE:
      spans[-1][1] += len(text)
    else:
      spans.append([offset, offset + len(text), label])
    offset += len(text)
  return spans
