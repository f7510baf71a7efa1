"""The `split` field, one format for every file with rows: "dev" and "eval"
rows load as a declared category, and a misspelt split stops the load with
the file, line and field."""

import json

import pytest

from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.lit import datasets
from lit_gemma.prompts import splits


def _write(path, rows):
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  return str(path)


def test_dev_and_eval_rows_load_as_a_category(tmp_path):
  from lit_nlp.api import types as lit_types  # pylint: disable=g-import-not-at-top

  path = _write(tmp_path / "p.jsonl", [
      {"prompt": "a", "split": "dev"}, {"prompt": "b", "split": "EVAL"},
      {"prompt": "c"}])
  ds = datasets.load(path)
  assert isinstance(ds.spec()[fields.SPLIT], lit_types.CategoryLabel)
  assert [ex[fields.SPLIT] for ex in ds.examples] == ["dev", "eval", ""]
  assert [ex["prompt"] for ex in splits.only(ds.examples, fields.EVAL)] == [
      "b"]


def test_a_misspelt_split_names_file_line_and_field(tmp_path):
  path = _write(tmp_path / "p.jsonl", [
      {"prompt": "a", "split": "dev"}, {"prompt": "b", "split": "evaluation"}])
  with pytest.raises(errors.UserError) as e:
    datasets.load(path)
  message = str(e.value)
  assert f"{path}:2" in message and "'split'" in message
  assert "evaluation" in message and "\n" not in message


def test_template_rows_carry_their_split(tmp_path):
  path = tmp_path / "t.yaml"
  path.write_text(
      "- id: plain\n"
      "  template: 'Q: {{q}}\\nA:'\n"
      "  rows:\n"
      "    - {q: one, split: dev}\n"
      "    - {q: two, split: eval}\n")
  ds = datasets.load(str(path))
  assert [ex[fields.SPLIT] for ex in ds.examples] == ["dev", "eval"]
