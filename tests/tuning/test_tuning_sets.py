"""Tuning sets (SFT, preference, prompt-only) load as prompt datapoints."""

import json

import pytest

from lit_gemma.lit import datasets
from lit_gemma.prompts import templates
from lit_gemma.tuning import sets
from lit_gemma.prompts.files import DataError


def write(tmp_path, name, rows):
  path = tmp_path / name
  if name.endswith(".jsonl"):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  else:
    path.write_text(rows)
  return path


def test_sft_row_is_one_datapoint_with_the_response_as_target(tmp_path):
  path = write(tmp_path, "sft.jsonl", [
      {"query": "Hi?", "response": "Hello.", "policy": "none",
       "use_case": "chat", "lang": "en"}])
  ds = datasets.load(path)
  (example,) = ds.examples
  assert example["prompt"] == templates.chat_prompt("Hi?")
  assert example["target"] == "Hello."
  assert example["query"] == "Hi?"
  assert example["lang"] == "en"
  # The tuning target is not the prompt sets' "show instead" response.
  assert "response" not in example and "response" not in ds.spec()
  assert "sft" in ds.description()


def test_preference_row_is_two_linked_datapoints(tmp_path):
  path = write(tmp_path, "pref.jsonl", [
      {"query": "Q1", "response_1": "a", "response_2": "b", "preferred": 2},
      {"query": "Q2", "response_1": "c", "response_2": "d", "preferred": 1}])
  examples = datasets.load(path).examples
  assert [(e["target"], e["pair_id"], e["is_preferred"], e["preference"])
          for e in examples] == [
              ("a", "pair-1", "false", "rejected"),
              ("b", "pair-1", "true", "chosen"),
              ("c", "pair-2", "true", "chosen"),
              ("d", "pair-2", "false", "rejected")]
  assert examples[0]["prompt"] == examples[1]["prompt"]
  assert [e["paired_target"] for e in examples] == ["b", "a", "d", "c"]
  assert [e["foil"] for e in examples] == ["b", "a", "d", "c"]


def test_prompt_only_csv_has_empty_targets(tmp_path):
  path = write(tmp_path, "rl.csv", "query,policy\nWhat is 2+2?,none\nHi,x\n")
  ds = datasets.load(path)
  assert [e["target"] for e in ds.examples] == ["", ""]
  assert ds.examples[0]["prompt"] == templates.chat_prompt("What is 2+2?")


def test_preference_csv_accepts_text_1_or_2(tmp_path):
  path = write(tmp_path, "p.csv",
               "query,response_1,response_2,preferred\nQ,a,b,2\n")
  assert [e["preference"] for e in datasets.load(path).examples] == [
      "rejected", "chosen"]


def test_query_template(tmp_path):
  path = write(tmp_path, "sft.jsonl", [
      {"query": "cheese", "response": " fromage", "level": "easy"}])
  ds = datasets.load(path, query_template="French for {{query}} ({{level}}):")
  assert ds.examples[0]["prompt"] == "French for cheese (easy):"
  with pytest.raises(DataError, match=r"sft.jsonl:1: .*undefined variable "
                     "'nope'"):
    datasets.load(path, query_template="{{nope}} {{query}}")


@pytest.mark.parametrize("value", [3, 0, "first", None, True, 1.5])
def test_preferred_not_1_or_2_names_file_and_line(tmp_path, value):
  path = write(tmp_path, "pref.jsonl", [
      {"query": "Q1", "response_1": "a", "response_2": "b", "preferred": 1},
      {"query": "Q2", "response_1": "c", "response_2": "d",
       "preferred": value}])
  with pytest.raises(DataError) as e:
    datasets.load(path)
  assert str(e.value).startswith(f"{path}:2: field 'preferred' must be 1 "
                                 "or 2, got ")
  assert e.value.field == "preferred"
  assert "\n" not in str(e.value)


def test_preferred_bad_in_csv_names_its_line(tmp_path):
  path = write(tmp_path, "p.csv", "query,response_1,response_2,preferred\n"
               "Q,a,b,1\n\"multi\nline\",a,b,1\nQ3,a,b,yes\n")
  with pytest.raises(DataError, match=r"p.csv:5: field 'preferred' must be "
                     "1 or 2, got 'yes'"):
    datasets.load(path)


def test_prompt_and_query_together_say_which_to_drop(tmp_path):
  path = write(tmp_path, "both.jsonl", [{"prompt": "p", "query": "q"}])
  with pytest.raises(DataError, match="both 'prompt' and 'query'.*drop "
                     "'query' for a prompt set, or drop 'prompt'"):
    datasets.load(path)


@pytest.mark.parametrize("rows, message", [
    ([{"query": "", "response": "r"}], r":1: empty required field 'query'"),
    ([{"query": "q", "response": "r"}, {"response": "r"}],
     r":2: missing required field 'query'"),
    ([{"query": "q", "response": ""}], r":1: empty required field "
     "'response'"),
    ([{"query": ["q"], "response": "r"}], r":1: field 'query' must be text"),
    ([{"query": "q", "response_1": "a", "preferred": 1}],
     r"preference set without 'response_2'"),
    ([{"query": "q", "response": "r", "response_1": "a"}],
     r"has 'response' and preference columns"),
    ([{"query": "q", "response": "r", "target": "t"}],
     r":1: column 'target' is set by the tuning-set reader"),
])
def test_bad_tuning_rows(tmp_path, rows, message):
  with pytest.raises(DataError, match=message):
    datasets.load(write(tmp_path, "t.jsonl", rows))


def test_prompt_sets_are_unchanged(tmp_path):
  path = write(tmp_path, "p.jsonl", [{"prompt": "p", "response": "shown"}])
  assert datasets.load(path).examples[0]["response"] == "shown"
  with pytest.raises(DataError, match="missing required field 'prompt' in "
                     "the header"):
    datasets.load(write(tmp_path, "x.csv", "text\nhello\n"))


def test_bundled_tuning_sets_load_in_every_shape():
  shapes = {}
  for name in ("tuning_sft", "preference_pairs", "tuning_prompts",
               "tuning_eval"):
    path = datasets.BUNDLED_DIR / datasets.BUNDLED_FILES[name]
    rows = sets.read_rows(str(path), path.read_text())
    shapes[name] = sets.shape_of(str(path), sets.columns(rows))
    ds = datasets.load(path)
    assert len(rows) >= (24 if name in ("tuning_sft", "preference_pairs")
                         else 10)
    for example in ds.examples:
      assert example["prompt"] == templates.chat_prompt(example["query"])
      assert example["policy"] and example["use_case"]
  assert shapes == {"tuning_sft": "sft", "preference_pairs": "preference",
                    "tuning_prompts": "prompts", "tuning_eval": "sft"}
