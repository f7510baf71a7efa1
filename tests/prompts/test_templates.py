"""Tests for lit_gemma.prompts.templates: rendering, template files, their errors."""

import json
import os
import textwrap

import pytest

from lit_gemma.prompts import templates

from lit_gemma.prompts import template_files
from lit_gemma.prompts.files import DataError


def write(folder, name, text):
  path = folder / name
  path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
  return str(path)


def test_chat_prompt_exact_string():
  assert templates.chat_prompt("Hi there") == (
      "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"
  )


def test_render_fills_placeholders_once():
  out = templates.render(
      "A {{x}} and {{ y }}; {{x}} again.", {"x": "{{y}}", "y": 3}
  )
  assert out == "A {{y}} and 3; {{y}} again."


def test_render_value_spelling():
  out = templates.render(
      "{{a}}|{{b}}|{{c}}|{{d}}|{{e}}",
      {"a": True, "b": 1.5, "c": None, "d": ["x"], "e": "ok"},
  )
  assert out == 'true|1.5||["x"]|ok'


def test_render_undefined_names_every_missing_variable():
  with pytest.raises(templates.UndefinedVariableError) as e:
    templates.render("{{a}} {{b}} {{a}} {{c}}", {"b": 1})
  assert e.value.names == ["a", "c"]
  assert str(e.value) == "undefined variables 'a', 'c'"


def test_placeholders_in_order_and_unique():
  assert templates.placeholders("{{b}} {{ a }} {{b}} {not} {{1x}}") == [
      "b", "a"
  ]


def test_yaml_template_with_examples_chat_and_fields(tmp_path):
  path = write(tmp_path, "t.yaml", """
      id: caps
      chat: true
      fields: {version: v1}
      template: "{{examples}}\\n\\nCountry: {{country}}\\nCapital:"
      example_template: "Country: {{country}}\\nCapital: {{capital}}"
      examples:
        - {country: Peru, capital: Lima}
        - {country: Kenya, capital: Nairobi}
      rows:
        - {country: Chile, target: " Santiago", note: unused}
      """)
  [row] = template_files.render_file(path)
  assert row.data["prompt"] == templates.chat_prompt(
      "Country: Peru\nCapital: Lima\n\nCountry: Kenya\nCapital: Nairobi"
      "\n\nCountry: Chile\nCapital:"
  )
  assert row.data["template_id"] == "caps"
  assert row.data["version"] == "v1"
  assert row.data["country"] == "Chile"
  assert row.data["note"] == "unused"
  assert row.data["target"] == " Santiago"


def test_custom_example_separator(tmp_path):
  path = write(tmp_path, "t.json", json.dumps({
      "id": "u", "template": "{{examples}}\n{{km}} km =",
      "example_template": "{{km}} km = {{m}} m", "example_separator": "\n",
      "examples": [{"km": 1, "m": 1000}, {"km": 2, "m": 2000}],
      "rows": [{"km": 3}],
  }))
  [row] = template_files.render_file(path)
  assert row.data["prompt"] == "1 km = 1000 m\n2 km = 2000 m\n3 km ="


def test_templates_share_rows_file_interleaved(tmp_path):
  write(tmp_path, "rows.csv", """
      topic,article,target
      bees,Bees like flowers.,Bees/flowers.
      ice,"Ice melts,
      slowly.",Ice melts.
      """)
  path = write(tmp_path, "t.yaml", """
      - id: v1
        template: "Article: {{article}}\\nSummary:"
        rows_file: rows.csv
      - id: v2
        template: "Summarize: {{article}}"
        rows_file: rows.csv
      """)
  rows = template_files.render_file(path)
  assert [(r.data["template_id"], r.data["topic"]) for r in rows] == [
      ("v1", "bees"), ("v2", "bees"), ("v1", "ice"), ("v2", "ice")
  ]
  assert rows[3].data["prompt"] == "Summarize: Ice melts,\nslowly."
  assert rows[3].data["target"] == "Ice melts."
  assert rows[3].line == 3  # Where the row starts in rows.csv.


def test_jsonl_rows_file(tmp_path):
  write(tmp_path, "rows.jsonl", '{"name": "Ada"}\n\n{"name": "Bo", "n": 2}\n')
  path = write(tmp_path, "t.yaml", """
      id: hi
      template: "Hello {{name}}"
      rows_file: rows.jsonl
      """)
  rows = template_files.render_file(path)
  assert [r.data["prompt"] for r in rows] == ["Hello Ada", "Hello Bo"]
  assert [r.line for r in rows] == [1, 3]


# Errors: one line naming the file, the template, the row and the field.


def error_of(path, root=None) -> DataError:
  with pytest.raises(DataError) as e:
    template_files.render_file(path, root=root)
  assert "\n" not in str(e.value)
  return e.value


def test_undefined_variable_inline_row(tmp_path):
  path = write(tmp_path, "t.yaml", """
      id: greet
      template: "Hello {{name}} from {{place}}"
      rows:
        - {name: Ada, place: Paris}
        - {name: Bo}
      """)
  e = error_of(path)
  assert str(e) == (
      f"{path}: template 'greet', rows[1]: undefined variable 'place'"
  )
  assert e.field == "place"


def test_undefined_variable_rows_file_names_line(tmp_path):
  rows = write(tmp_path, "rows.csv", "name,city\nAda,Paris\n\nBo,Rome\n")
  path = write(tmp_path, "t.yaml", """
      - id: ok
        template: "{{name}}"
        rows_file: rows.csv
      - id: bad
        template: "{{name}} in {{country}}"
        rows_file: rows.csv
      """)
  e = error_of(path)
  assert str(e) == (
      f"{rows}:2: template 'bad' in {path}: undefined variable 'country'"
  )
  assert (e.path, e.line, e.field) == (rows, 2, "country")


def test_undefined_variable_in_examples(tmp_path):
  path = write(tmp_path, "t.yaml", """
      id: fs
      template: "{{examples}} {{q}}"
      example_template: "{{q}} -> {{a}}"
      examples: [{q: x, a: y}, {q: z}]
      rows: [{q: w}]
      """)
  assert str(error_of(path)) == (
      f"{path}: template 'fs', examples[1]: undefined variable 'a'"
  )


@pytest.mark.parametrize("body, message", [
    ("id: a\ntemplate: x\nrows: [{}]\nrow_file: r.csv\n",
     "template 'a': unknown field 'row_file' (expected one of: id, template, "
     "examples, example_template, example_separator, chat, fields, rows, "
     "rows_file, eval_rows_file)"),
    ("template: x\nrows: [{}]\n", "templates[0]: missing required field 'id'"),
    ("prompt: hi\n", "templates[0]: missing required field 'id' (prompt "
     "records go in a .jsonl file, one object a line)"),
    ("id: a\nrows: [{}]\n", "template 'a': missing required field 'template'"),
    ("id: a\ntemplate: x\n", "template 'a': needs exactly one of 'rows' (a "
     "list) or 'rows_file' (a .csv or .jsonl path)"),
    ("id: a\ntemplate: x\nrows: [{}]\nrows_file: r.csv\n",
     "template 'a': needs exactly one of 'rows' (a list) or 'rows_file' (a "
     ".csv or .jsonl path)"),
    ("id: a\ntemplate: x\nrows: []\n", "template 'a': field 'rows' is empty"),
    ("id: a\ntemplate: x\nrows: [{}, 3]\n",
     "template 'a', rows[1]: expected a mapping of variables, got a number"),
    ("id: a\ntemplate: x\nrows_file: r.xlsx\n",
     "template 'a': field 'rows_file' must be a path ending in .csv or .jsonl"),
    ("id: a\ntemplate: x\nchat: yes please\nrows: [{}]\n",
     "template 'a': field 'chat' must be true or false"),
    ("id: a\ntemplate: '{{q}}'\nexamples: [{q: 1}]\n"
     "example_template: '{{q}}'\nrows: [{q: 2}]\n",
     "template 'a': has 'examples' but its template has no {{examples}} "
     "placeholder"),
    ("id: a\ntemplate: '{{examples}}'\nexamples: [{q: 1}]\nrows: [{}]\n",
     "template 'a': has 'examples' but no 'example_template'"),
    ("- {id: a, template: x, rows: [{}]}\n- {id: a, template: y, rows: [{}]}\n",
     "template 'a': duplicate id (also templates[0])"),
    ("- just text\n", "templates[0]: expected a mapping with 'id' and "
     "'template', got a string"),
    ("hello\n", "expected a template (a mapping) or a list of templates, got "
     "a string"),
    ("[]\n", "no templates: the list is empty"),
    ("", "empty file: no templates"),
    ("id: a\ntemplate: '{{x}}'\nrows: [{x: 1, prompt: p}]\n",
     "template 'a', rows[0]: field 'prompt' is reserved in template rows "
     "(the template sets it)"),
])
def test_template_file_errors(tmp_path, body, message):
  path = write(tmp_path, "t.yaml", body)
  assert str(error_of(path)) == f"{path}: {message}"


def test_invalid_yaml_names_line(tmp_path):
  path = write(tmp_path, "t.yaml", "id: a\ntemplate: x\nrows: [{a: 1}\n")
  e = error_of(path)
  assert str(e).startswith(f"{path}:4: invalid YAML: ")


def test_unquoted_placeholder_in_yaml_gets_a_hint(tmp_path):
  path = write(tmp_path, "t.yaml", "id: a\ntemplate: {{q}}\nrows: [{q: 1}]\n")
  assert str(error_of(path)) == (
      f"{path}:2: invalid YAML: found unhashable key (quote a value that "
      'starts with {{: "{{name}} ...")'
  )


def test_invalid_json_names_line(tmp_path):
  path = write(tmp_path, "t.json", '{"id": "a",\n "template": x}\n')
  assert str(error_of(path)) == (
      f"{path}:2: invalid JSON: Expecting value (column 14)"
  )


def test_rows_file_not_found(tmp_path):
  path = write(tmp_path, "t.yaml", "id: a\ntemplate: x\nrows_file: no.csv\n")
  assert str(error_of(path)) == (
      f"{path}: template 'a': rows_file not found: {tmp_path / 'no.csv'}"
  )


def test_rows_file_errors_name_rows_file_line(tmp_path):
  rows = write(tmp_path, "rows.jsonl", '{"x": 1}\n{"x": 2\n')
  path = write(tmp_path, "t.yaml",
               "id: a\ntemplate: x\nrows_file: rows.jsonl\n")
  assert str(error_of(path)) == (
      f"{rows}:2: invalid JSON: Expecting ',' delimiter (column 8)"
  )


def test_rows_file_must_stay_under_root(tmp_path):
  root = tmp_path / "root"
  root.mkdir()
  write(tmp_path, "secret.csv", "x\n1\n")
  os.symlink(tmp_path / "secret.csv", root / "link.csv")
  for rows_file in ("../secret.csv", "link.csv"):
    path = write(root, "t.yaml",
                 f"id: a\ntemplate: x\nrows_file: {rows_file}\n")
    e = error_of(path, root=str(root))
    assert str(e) == (
        f"{path}: template 'a': rows_file '{rows_file}' is outside the data "
        f"root {os.path.realpath(root)}"
    )
    # Without a root (command-line datasets), the same file loads.
    assert len(template_files.render_file(path)) == 1
