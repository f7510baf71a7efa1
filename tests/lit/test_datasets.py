"""Tests for lit_gemma.lit.datasets: formats, errors, UI loader, bundled data."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.api import types as lit_types
from lit_nlp.lib import utils as lit_utils
from lit_nlp.lib import validation

from lit_gemma.lit import datasets
from lit_gemma.prompts import templates
from lit_gemma.lit.datasets import DataError
import repo


def write(folder, name, text, encoding="utf-8"):
  path = folder / name
  if isinstance(text, bytes):
    path.write_bytes(text)
  else:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
  return str(path)


def jsonl(*records):
  return "".join(json.dumps(r) + "\n" for r in records)


def spec_types(ds):
  return {k: type(v).__name__ for k, v in ds.spec().items()}


def check_lit(ds):
  """LIT's own validation, plus: every example has exactly the spec's fields."""
  validation.validate_dataset(ds)
  for example in ds.examples:
    assert set(example) == set(ds.spec())
  lit_dataset.IndexedDataset(base=ds, id_fn=lit_dataset.input_hash)


# Formats.


def test_jsonl_fields_and_metadata(tmp_path):
  path = write(tmp_path, "d.jsonl", jsonl(
      {"prompt": "p1", "target": "t1", "level": "easy", "score": 2,
       "flag": True, "tags": ["a", "b"], "note": None},
      {"prompt": "p2", "score": 3.5, "level": "a much longer value " * 4},
  ) + "\n  \n")
  ds = datasets.load(path)
  check_lit(ds)
  assert spec_types(ds) == {
      "prompt": "TextSegment", "target": "TextSegment",
      "level": "StringLitType", "score": "Scalar", "flag": "CategoryLabel",
      "tags": "CategoryLabel", "note": "CategoryLabel",
  }
  assert not ds.spec()["target"].required
  assert ds.examples[0] == {
      "prompt": "p1", "target": "t1", "level": "easy", "score": 2,
      "flag": "true", "tags": '["a", "b"]', "note": "",
  }
  assert ds.examples[1]["target"] == ""
  assert ds.examples[1]["flag"] == ""
  assert ds.spec()["score"].min_val == 2 and ds.spec()["score"].max_val == 3.5
  assert ds.description() == f"2 examples from {path}"


def test_response_and_source_only_when_given(tmp_path):
  path = write(tmp_path, "d.jsonl", jsonl(
      {"prompt": "p1", "response": "r1", "source": "web"},
      {"prompt": "p2", "target": 7},
  ))
  ds = datasets.load(path)
  check_lit(ds)
  assert spec_types(ds) == {
      "prompt": "TextSegment", "target": "TextSegment",
      "response": "TextSegment", "source": "CategoryLabel",
  }
  assert not ds.spec()["response"].required
  assert ds.examples[1] == {
      "prompt": "p2", "target": "7", "response": "", "source": ""
  }
  plain = datasets.load(write(tmp_path, "e.jsonl", jsonl({"prompt": "p"})))
  assert set(plain.spec()) == {"prompt", "target"}


def test_csv_multiline_cells_and_bom(tmp_path):
  path = write(tmp_path, "d.csv", textwrap.dedent("""\
      prompt,target,kind
      "Line one
      line two",t1,a

      "Say ""hi"", please", t2,b
      """).encode("utf-8-sig"))
  ds = datasets.load(path)
  check_lit(ds)
  assert ds.examples == [
      {"prompt": "Line one\nline two", "target": "t1", "kind": "a"},
      {"prompt": 'Say "hi", please', "target": " t2", "kind": "b"},
  ]


def test_csv_quoted_empty_prompt_is_a_row(tmp_path):
  path = write(tmp_path, "d.csv", 'prompt\n""\n \n\r\nb\r\n')
  assert [e["prompt"] for e in datasets.load(path).examples] == ["", "b"]


def test_txt_one_prompt_a_line_with_escapes(tmp_path):
  path = write(tmp_path, "d.txt", (
      "First prompt  \n"
      "\n"
      "   \n"
      "<start_of_turn>user\\nHi\\tthere<end_of_turn>\\n"
      "<start_of_turn>model\\n\n"
      "C:\\\\new and C:\\data\r\n"
  ))
  ds = datasets.load(path)
  check_lit(ds)
  assert [e["prompt"] for e in ds.examples] == [
      "First prompt  ",
      templates.chat_prompt("Hi\tthere"),
      "C:\\new and C:\\data",
  ]
  assert spec_types(ds) == {"prompt": "TextSegment", "target": "TextSegment"}


def test_template_file_as_dataset(tmp_path):
  write(tmp_path, "rows.csv", "article,target\nA.,a\nB.,b\n")
  path = write(tmp_path, "t.yaml", """
      - id: v1
        template: "Article: {{article}}"
        rows_file: rows.csv
      - id: v2
        chat: true
        template: "Sum up: {{article}}"
        rows_file: rows.csv
      """)
  ds = datasets.load(path, name="sums")
  check_lit(ds)
  assert list(ds.spec()) == ["prompt", "target", "template_id", "article",
                             "prompt_parts"]
  assert [(e["template_id"], e["article"]) for e in ds.examples] == [
      ("v1", "A."), ("v2", "A."), ("v1", "B."), ("v2", "B.")
  ]
  assert ds.examples[1]["prompt"] == templates.chat_prompt("Sum up: A.")
  assert ds.examples[3]["target"] == "b"
  assert ds.description() == f"sums: 4 template prompts from {path}"
  short = datasets.load(path, max_examples=3)
  assert len(short) == 3
  assert short.description().endswith("(first 3 of 4)")


def test_max_examples(tmp_path):
  path = write(tmp_path, "d.jsonl",
               jsonl(*[{"prompt": str(i)} for i in range(5)]))
  first = datasets.load(path, max_examples=2)
  assert [e["prompt"] for e in first.examples] == ["0", "1"]
  assert len(datasets.load(path, max_examples=99)) == 5
  for bad in (0, -1, 1.5, "3"):
    with pytest.raises(ValueError, match="max_examples must be a whole number"):
      datasets.load(path, max_examples=bad)


# Errors: one line, naming file, line and field.


def error_of(path, **kw) -> DataError:
  with pytest.raises(DataError) as e:
    datasets.load(path, **kw)
  assert "\n" not in str(e.value)
  return e.value


def test_malformed_jsonl_line(tmp_path):
  path = write(tmp_path, "d.jsonl", '{"prompt": "a"}\n\n{"prompt": "b" "x"}\n')
  e = error_of(path)
  assert str(e) == (
      f"{path}:3: invalid JSON: Expecting ',' delimiter (column 16)"
  )
  assert (e.path, e.line) == (path, 3)


def test_jsonl_line_not_an_object(tmp_path):
  path = write(tmp_path, "d.jsonl", '{"prompt": "a"}\n["b"]\n')
  assert str(error_of(path)) == f"{path}:2: expected a JSON object, got a list"


def test_jsonl_row_without_prompt(tmp_path):
  path = write(tmp_path, "d.jsonl", jsonl({"prompt": "a"}, {"promt": "b"}))
  e = error_of(path)
  assert str(e) == f"{path}:2: missing required field 'prompt'"
  assert (e.line, e.field) == (2, "prompt")


@pytest.mark.parametrize("record, message", [
    ({"prompt": None}, "field 'prompt' must be text, got null"),
    ({"prompt": ["a"]}, "field 'prompt' must be text, got a list"),
    ({"prompt": "a", "target": {"x": 1}},
     "field 'target' must be text, got a mapping"),
    ({"prompt": "a", "response": True},
     "field 'response' must be text, got a boolean"),
    ({"prompt": "a", "_id": "x"}, "field '_id' is a reserved name; rename it"),
    ({"prompt": "a", "target_mask": "x"},
     "field 'target_mask' is a reserved name; rename it"),
    ({"prompt": "a", "": "x"}, "empty field name"),
])
def test_jsonl_bad_fields(tmp_path, record, message):
  path = write(tmp_path, "d.jsonl", jsonl({"prompt": "ok"}, record))
  assert str(error_of(path)) == f"{path}:2: {message}"


def test_csv_without_prompt_column(tmp_path):
  path = write(tmp_path, "d.csv", b"\ntext,target\na,b\n")
  e = error_of(path)
  assert str(e) == (
      f"{path}:2: missing required field 'prompt' in the header (columns: "
      "text, target)"
  )
  assert (e.line, e.field) == (2, "prompt")


@pytest.mark.parametrize("text, message", [
    ("prompt,target\na,b\nc,d,e\n",
     "3: row has 3 cells but the header has 2 columns"),
    ("prompt,target\na,b\nc\n",
     "3: row has 1 cell but the header has 2 columns"),
    ("prompt,target\na,b\n  \t\nc\n",
     "4: row has 1 cell but the header has 2 columns"),
    ("prompt,target\na,b\n\"c,d\n", "3: invalid CSV: unexpected end of data"),
    ("prompt,target\n\"a\"x,b\n",
     "2: invalid CSV: ',' expected after '\"'"),
    ("prompt,prompt\na,b\n", "1: duplicate column 'prompt' in the header"),
    ("prompt,,x\na,b,c\n", "1: empty column name in the header (column 2)"),
    ("prompt,target\n", " no examples after the header row"),
])
def test_csv_problems(tmp_path, text, message):
  path = write(tmp_path, "d.csv", text)
  assert str(error_of(path)) == f"{path}:{message}"


def test_missing_file_directory_and_unknown_extension(tmp_path):
  missing = str(tmp_path / "nope.jsonl")
  assert str(error_of(missing)) == f"{missing}: file not found"
  folder = tmp_path / "dir.csv"
  folder.mkdir()
  assert str(error_of(str(folder))) == f"{folder}: is a directory, not a file"
  odd = write(tmp_path, "d.xlsx", "x")
  assert str(error_of(odd)) == (
      f"{odd}: unknown dataset format '.xlsx'; expected one of: .jsonl, .csv, "
      ".txt, .json, .yaml, .yml"
  )
  bare = write(tmp_path, "README", "x")
  assert "unknown dataset format (no extension)" in str(error_of(bare))


@pytest.mark.parametrize("name, text, message", [
    ("e.jsonl", "", "empty file: no examples (an empty dataset is an error)"),
    ("e.csv", "", "empty file: no examples (an empty dataset is an error)"),
    ("e.txt", "\n", "empty file: no examples (an empty dataset is an error)"),
    ("e.jsonl", "\n  \n\n", "empty file: no examples (an empty dataset is an "
     "error)"),
    ("e.txt", " \n\t\n", "empty file: no examples (an empty dataset is an "
     "error)"),
    ("e.csv", "\n\n", "empty file: no examples (an empty dataset is an "
     "error)"),
])
def test_empty_files_are_errors(tmp_path, name, text, message):
  path = write(tmp_path, name, text)
  assert str(error_of(path)) == f"{path}: {message}"


def test_not_utf8_names_line(tmp_path):
  path = write(tmp_path, "d.txt", b"ok\nalso ok\nbad \xff byte\n")
  assert str(error_of(path)) == f"{path}:3: not UTF-8 text (byte 0xff)"


def test_template_undefined_variable_through_load(tmp_path):
  path = write(tmp_path, "t.json", json.dumps(
      {"id": "t", "template": "{{a}}", "rows": [{"a": 1}, {"b": 2}]}
  ))
  e = error_of(path)
  assert str(e) == f"{path}: template 't', rows[1]: undefined variable 'a'"
  assert e.field == "a"


def test_no_row_is_dropped(tmp_path):
  rows = [{"prompt": f"p{i}", "target": "" if i % 2 else "t"} for i in range(7)]
  rows.append(dict(rows[0]))  # An exact duplicate is kept (and logged).
  ds = datasets.load(write(tmp_path, "d.jsonl", jsonl(*rows)))
  assert [e["prompt"] for e in ds.examples] == [r["prompt"] for r in rows]


# The --datasets flag.


def test_parse_datasets_flag():
  assert datasets.parse_datasets_flag(
      "a:x/one.jsonl, b:/abs/two.csv,,dir/three.yaml"
  ) == [
      ("a", "x/one.jsonl"), ("b", "/abs/two.csv"), ("three", "dir/three.yaml")
  ]
  assert datasets.parse_datasets_flag(["a:1.txt", "2.txt"]) == [
      ("a", "1.txt"), ("2", "2.txt")
  ]
  with pytest.raises(DataError) as e:
    datasets.parse_datasets_flag("a:1.txt,a:2.txt")
  assert str(e.value) == "--datasets: dataset name 'a' is given twice"
  with pytest.raises(DataError) as e:
    datasets.parse_datasets_flag("a:")
  assert str(e.value) == "--datasets: entry 'a:' has no path after the name"


def test_load_datasets(tmp_path):
  one = write(tmp_path, "one.txt", "a\nb\nc\n")
  two = write(tmp_path, "two.jsonl", jsonl({"prompt": "x"}))
  loaded = datasets.load_datasets(f"first:{one},{two}", max_examples=2)
  assert list(loaded) == ["first", "two"]
  assert len(loaded["first"]) == 2
  assert loaded["first"].description().startswith("first: 2 examples from ")
  with pytest.raises(DataError, match="file not found"):
    datasets.load_datasets(f"x:{tmp_path / 'missing.csv'}")


# The UI's dataset loader and --data_root.


@pytest.fixture
def data_root(tmp_path):
  root = tmp_path / "root"
  (root / "sub").mkdir(parents=True)
  write(root / "sub", "ok.jsonl", jsonl({"prompt": "in"}, {"prompt": "in2"}))
  write(tmp_path, "secret.jsonl", jsonl({"prompt": "out"}))
  os.symlink(tmp_path / "secret.jsonl", root / "link.jsonl")
  os.symlink(tmp_path, root / "updir")
  return root


def ui_load(root, path, **config):
  loader, spec = datasets.dataset_loaders(root)[datasets.LOADER_NAME]
  config = {"path": path, **config}
  lit_utils.validate_config_against_spec(config, spec, "t",
                                         raise_for_unsupported=True)
  return loader(**config)


def test_ui_loader_reads_inside_root(data_root):
  assert len(ui_load(data_root, "sub/ok.jsonl")) == 2
  assert len(ui_load(str(data_root), str(data_root / "sub/ok.jsonl"),
                     max_examples=1)) == 1
  assert len(ui_load(data_root, "sub/../sub/ok.jsonl")) == 2


@pytest.mark.parametrize("typed", [
    "../secret.jsonl", "sub/../../secret.jsonl", "link.jsonl",
    "updir/secret.jsonl", "/etc/passwd", "{tmp}/secret.jsonl",
])
def test_ui_loader_refuses_paths_outside_root(data_root, typed):
  typed = typed.format(tmp=data_root.parent)
  with pytest.raises(DataError) as e:
    ui_load(data_root, typed)
  assert str(e.value) == (
      f"{typed}: refused: the path is outside the data root "
      f"{os.path.realpath(data_root)}"
  )


def test_ui_loader_refuses_everything_without_root(data_root):
  with pytest.raises(DataError) as e:
    ui_load(None, str(data_root / "sub/ok.jsonl"))
  assert str(e.value) == (
      f"{data_root / 'sub/ok.jsonl'}: refused: loading datasets by path is "
      "disabled; start the server with --data_root=DIR to allow files under DIR"
  )


def test_ui_loader_template_rows_file_stays_in_root(data_root):
  write(data_root, "t.yaml", "id: a\ntemplate: '{{prompt2}}'\n"
        "rows_file: ../secret.jsonl\n")
  with pytest.raises(DataError, match="rows_file '../secret.jsonl' is outside "
                     "the data root"):
    ui_load(data_root, "t.yaml")


def test_ui_loader_through_lit_app(data_root):
  """The loader as LIT's /create_dataset calls it."""
  from lit_nlp import app as lit_app  # pylint: disable=g-import-not-at-top
  app = lit_app.LitApp(
      models={}, datasets={}, layouts={}, client_root=str(data_root),
      dataset_loaders=datasets.dataset_loaders(data_root),
  )
  info, name = app._create_dataset(  # pylint: disable=protected-access
      {"config": {"new_name": "mine", "path": "sub/ok.jsonl",
                  "max_examples": 1000}},
      dataset_name=datasets.LOADER_NAME,
  )
  assert name == "mine" and "mine" in info["datasets"]
  with pytest.raises(DataError, match="outside the data root"):
    app._create_dataset(  # pylint: disable=protected-access
        {"config": {"new_name": "x", "path": "../secret.jsonl"}},
        dataset_name=datasets.LOADER_NAME,
    )


# Bundled data.


def test_bundled_datasets_load_and_validate(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # Paths must not depend on the cwd.
  assert len(datasets.DEFAULT_DATASETS) >= 4
  loaded = datasets.load_datasets(datasets.DEFAULT_DATASETS)
  assert list(loaded) == list(datasets.BUNDLED_FILES)
  for ds in loaded.values():
    check_lit(ds)
    assert len(ds) >= 10
    for example in ds.examples:
      assert len(example["prompt"].split()) < 150  # Well under 200 tokens.
  assert sum(len(ds) for ds in loaded.values()) >= 40


def bundled(name):
  return datasets.load(datasets.BUNDLED_DIR / datasets.BUNDLED_FILES[name])


def test_bundled_fewshot_twins_differ_in_one_shot():
  by_pair = {}
  for example in bundled("fewshot_mistakes").examples:
    by_pair.setdefault(example["pair_id"], {})[example["variant"]] = example
  assert len(by_pair) >= 8
  for pair in by_pair.values():
    mistake, fixed = pair["mistake"], pair["fixed"]
    assert mistake["target"] == fixed["target"]
    lines = zip(mistake["prompt"].splitlines(), fixed["prompt"].splitlines(),
                strict=True)
    assert sum(a != b for a, b in lines) == 1


def test_bundled_summarization_versions():
  examples = bundled("summarization").examples
  expert = [e for e in examples if e["template_id"] == "summary_expert"]
  plain = [e for e in examples if e["template_id"] == "summary_plain"]
  assert len(expert) == len(plain) >= 6
  for e in expert:
    assert e["prompt"].startswith(
        "The following examples show an expert scientist summarizing the key "
        f"points of an article. Article: {e['article']}"
    )
  for e in plain:
    assert e["prompt"].startswith("Summarize the article")
  for e in expert:
    assert 3 <= e["article"].count(". ") + 1 <= 5


def test_bundled_safety_and_preferences():
  probes = bundled("safety_probes").examples
  assert {e["kind"] for e in probes} == {"adversarial", "benign"}
  pairs = bundled("preference_pairs").examples
  assert {e["preference"] for e in pairs} == {"chosen", "rejected"}
  for example in probes + pairs:
    assert example["prompt"].startswith(templates.USER_TURN_START)
    assert example["prompt"].endswith(
        templates.TURN_END + templates.MODEL_TURN_START
    )
    assert example["target"]
    # The foil of contrastive maps: the wrong behaviour, the other response.
    assert example["foil"] and example["foil"] != example["target"]
  assert all(e["foil"] == e["paired_target"] for e in pairs)


def test_bundled_arithmetic_targets_show_steps():
  for example in bundled("arithmetic").examples:
    assert example["prompt"].endswith("Let's think step by step.\n")
    assert example["target"].endswith(f"The answer is {example['answer']}.")
    assert example["target"].count("\n") >= 1


def test_import_is_light():
  code = ("import sys, lit_gemma.lit.datasets; "
          "print(sorted(m for m in sys.modules if m.split('.')[0] in "
          "('keras', 'jax', 'keras_hub', 'tensorflow')))")
  out = subprocess.run([sys.executable, "-c", code], check=True,
                       capture_output=True, text=True,
                       cwd=repo.ROOT).stdout
  assert out.strip() == "[]"


def test_spec_types_are_lit_types():
  assert isinstance(datasets.core_spec()["prompt"], lit_types.TextSegment)
