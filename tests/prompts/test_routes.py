"""Dynamic templates (a row routed to a template by a label) and
evaluation rows in template files: rendering, the route column, the
split an eval_rows_file gives, and their one-line errors."""

import textwrap

import pytest

from lit_gemma.prompts import routes
from lit_gemma.prompts import template_files
from lit_gemma.prompts import yaml_lines
from lit_gemma.prompts.files import DataError

ROUTED = """
- id: billing_v1
  template: "Billing question: {{query}}\\nAnswer:"
- id: technical_v1
  template: "Bug report: {{query}}\\nFix:"
- id: support
  fields: {version: dynamic}
  route:
    {route}
    templates: {billing: billing_v1, technical: technical_v1}
  rows:
    - {query: "Why was I charged twice?", topic: billing}
    - {query: "The app crashes on start", topic: technical}
"""


def write(folder, name, text):
  path = folder / name
  path.write_text(textwrap.dedent(text).lstrip("\n"))
  return str(path)


def routed(tmp_path, route_line):
  return write(tmp_path, "t.yaml", ROUTED.replace("{route}", route_line))


def test_rows_routed_by_a_field(tmp_path):
  rows = template_files.render_file(routed(tmp_path, "by: topic"))
  assert [r.data["prompt"] for r in rows] == [
      "Billing question: Why was I charged twice?\nAnswer:",
      "Bug report: The app crashes on start\nFix:"]
  assert {r.data["template_id"] for r in rows} == {"support"}
  assert [r.data["route"] for r in rows] == ["billing", "technical"]
  assert rows[0].data["version"] == "dynamic"
  # The chosen template's parts describe the prompt.
  assert rows[1].data["prompt_parts"][0] == [0, 12, "template"]


def test_rows_routed_by_the_models_answer(tmp_path):
  path = routed(tmp_path,
                'classify: "Billing or technical?\\n{{query}}\\nLabel:"')
  asked = []

  def classify(prompt, labels):
    asked.append((prompt, tuple(labels)))
    return "technical" if "crash" in prompt else "billing"

  rows = template_files.render_file(path, classify=classify)
  assert [r.data["route"] for r in rows] == ["billing", "technical"]
  assert asked[0] == ("Billing or technical?\nWhy was I charged twice?\n"
                      "Label:", ("billing", "technical"))
  assert template_files.classifies(path)
  # Without a model (a file read before it loads) the rows say so.
  unclassified = template_files.render_file(path)
  assert {r.data["route"] for r in unclassified} == {routes.UNCLASSIFIED}


@pytest.mark.parametrize("route_line, message", [
    ("by: colour", "rows[0]: router 'support': missing field 'colour'"),
    ("by: topic\n    default: nowhere",
     "router 'support': no template 'nowhere' in this file"),
    ("by: topic\n    classify: x", "route needs exactly one of 'by'"),
    ("by: topic\n    via: x", "route: unknown field 'via'"),
])
def test_router_errors_name_the_file(tmp_path, route_line, message):
  path = routed(tmp_path, route_line)
  with pytest.raises(DataError) as e:
    template_files.render_file(path)
  assert str(e.value).startswith(f"{path}") and message in str(e.value)
  assert "\n" not in str(e.value)


def test_a_router_may_not_set_its_own_fields(tmp_path):
  text = ROUTED.replace("{version: dynamic}", "{route: mine}")
  path = write(tmp_path, "t.yaml", text.replace("{route}", "by: topic"))
  with pytest.raises(DataError) as e:
    template_files.render_file(path)
  assert str(e.value) == (f"{path}: template 'support': fields: 'route' is "
                          "reserved (set by the router)")


def test_a_label_without_a_template_is_an_error_unless_defaulted(tmp_path):
  text = ROUTED.replace("topic: technical", "topic: sales")
  path = write(tmp_path, "t.yaml", text.replace("{route}", "by: topic"))
  with pytest.raises(DataError) as e:
    template_files.render_file(path)
  assert "label 'sales' has no template" in str(e.value)
  path = write(tmp_path, "t.yaml", text.replace(
      "{route}", "by: topic\n    default: technical_v1"))
  assert template_files.render_file(path)[1].data["route"] == "sales"


def test_a_template_without_rows_must_be_routed_to(tmp_path):
  path = write(tmp_path, "t.yaml", "- {id: a, template: x}\n")
  with pytest.raises(DataError, match="template 'a': needs exactly one of"):
    template_files.render_file(path)


def test_eval_rows_file_marks_its_rows_eval(tmp_path):
  write(tmp_path, "held.jsonl", '{"q": "c", "target": " 3"}\n')
  path = write(tmp_path, "t.yaml", """
      id: t
      template: "{{q}}"
      rows: [{q: a, target: " 1", split: dev}, {q: b, target: " 2"}]
      eval_rows_file: held.jsonl
      """)
  rows = template_files.render_file(path)
  assert [r.data.get("split") for r in rows] == ["dev", None, "eval"]
  assert rows[2].line == 1
  write(tmp_path, "held.jsonl", '{"q": "c", "split": "dev"}\n')
  with pytest.raises(DataError) as e:
    template_files.render_file(path)
  assert str(e.value).startswith(f"{tmp_path / 'held.jsonl'}:1: ")
  assert "every row there is evaluation data" in str(e.value)


def test_yaml_item_lines(tmp_path):
  path = write(tmp_path, "t.yaml", """
      - id: a
        template: "{{examples}} {{q}}"
        example_template: "{{q}}"
        examples:
          - {q: one}
          - {q: two}
        rows: &rows
          - {q: three}
      - id: b
        template: "{{q}}"
        rows: *rows
      """)
  lines = yaml_lines.item_lines(path, open(path).read())
  assert lines[(0, "examples", 1)] == 6
  assert lines[(0, "rows", 0)] == lines[(1, "rows", 0)] == 8
