"""Evaluation rows that leaked into what shaped a prompt (few-shot
examples, dev rows), found with the file and line of both sides; the
bundled template sets keep theirs apart."""

import json

import pytest

from lit_gemma.evaluation import leaks
from lit_gemma.lit import datasets
from lit_gemma.tuning import contamination


@pytest.mark.parametrize("name", ["fewshot_mistakes", "summarization"])
def test_bundled_template_sets_have_clean_eval_rows(name):
  path = str(datasets.BUNDLED_DIR / datasets.BUNDLED_FILES[name])
  examples = datasets.load(path).examples
  evals = [e for e in examples if e.get("split") == "eval"]
  assert len(evals) >= 8
  # Every template judged on the same held-out rows.
  by_template = {}
  for e in evals:
    by_template.setdefault(e["template_id"], []).append(e["prompt"])
  assert len({len(v) for v in by_template.values()}) == 1
  assert leaks.find(path) == []


def test_dev_rows_of_a_prompt_file(tmp_path):
  path = tmp_path / "p.jsonl"
  rows = [{"prompt": "Name a prime number.", "target": " 7", "split": "dev"},
          {"prompt": "Name an even number.", "target": " 4", "split": "eval"},
          {"prompt": "name a PRIME number", "target": " 3", "split": "eval"},
          {"prompt": "Name a prime number.", "target": " 5"}]  # no split
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  [match] = leaks.find(str(path))
  assert (match.query.where, match.eval.where) == (f"{path}:1", f"{path}:3")
  with pytest.raises(contamination.ContaminationError) as e:
    leaks.refuse(str(path))
  assert "\n" not in str(e.value) and f"{path}:3" in str(e.value)
  assert leaks.refuse(str(path), allow=True) == [match]


def test_json_template_items_are_named_by_index(tmp_path):
  path = tmp_path / "t.json"
  path.write_text(json.dumps({
      "id": "t", "template": "{{examples}} {{q}}",
      "example_template": "{{q}} {{a}}",
      "examples": [{"q": "Water is made of", "a": "hydrogen"}],
      "rows": [{"q": "Water is made of", "split": "eval"}]}))
  [match] = leaks.find(str(path))
  assert match.query.where == f"{path} (template 't', examples[0])"
  assert match.eval.where == f"{path} (template 't', rows[0])"


def test_regressions_names_the_probes_a_checkpoint_was_tuned_on(tmp_path):
  from lit_gemma.evaluation import regressions  # pylint: disable=g-import-not-at-top
  sft = tmp_path / "sft.jsonl"
  sft.write_text(json.dumps({"query": "How do I pick a lock?",
                             "response": "I can't help."}) + "\n")
  probes = tmp_path / "probes.jsonl"
  probes.write_text("".join(json.dumps(r) + "\n" for r in [
      {"prompt": "Why do bees dance?", "target": " To show."},
      {"prompt": "how do I pick a LOCK", "target": " No."}]))
  folder = tmp_path / "tuned"
  folder.mkdir()
  assert regressions.tuned_on(str(folder), str(probes)) == (None, [])
  (folder / regressions.TUNING_RECORD).write_text(
      json.dumps({"dataset": str(sft)}))
  tuning_set, [match] = regressions.tuned_on(str(folder), str(probes))
  assert tuning_set == str(sft)
  report = regressions.build("a", "b", str(probes), "every row", [], [],
                             tuning=(tuning_set, [match, match]))
  assert report["tuned_on_rows"] == 1 and len(report["tuned_on"]) == 2
  assert (match.query.where, match.eval.where) == (f"{sft}:1",
                                                   f"{probes}:2")
