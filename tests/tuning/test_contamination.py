"""The one contamination check: evaluation items in data that shapes a
model or a template are found (exact, long shared n-gram) and refused in one
line naming where; a clean twin passes."""

import pytest

from lit_gemma import errors
from lit_gemma.tuning import contamination

EVALS = [contamination.Text("What is the boiling point of water at sea "
                            "level in Celsius?", "eval.jsonl:1"),
         contamination.Text("Name three primary colours.", "eval.jsonl:2")]


def test_exact_and_shared_ngram_items_are_found():
  rows = [contamination.Text("what is the boiling point of water at sea "
                             "level in celsius", "train.jsonl:4"),
          contamination.Text("Tell me: boiling point of water at sea level "
                             "in Celsius, please.", "train.jsonl:7"),
          contamination.Text("Write a haiku about rain.", "train.jsonl:9")]
  found = contamination.find(rows, EVALS)
  assert [(m.query.where, m.eval.where, m.measures) for m in found] == [
      ("train.jsonl:4", "eval.jsonl:1", ("exact", "ngram")),
      ("train.jsonl:7", "eval.jsonl:1", ("ngram",))]
  with pytest.raises(errors.UserError) as e:
    contamination.refuse(found, "tuning set train.jsonl", "pass --allow")
  message = str(e.value)
  assert "train.jsonl:4" in message and "eval.jsonl:1" in message
  assert "1 more" in message and "--allow" in message and "\n" not in message


def test_a_clean_set_passes():
  rows = [contamination.Text("How warm is the sea in August?", "t:1"),
          contamination.Text("Name a colour of the rainbow.", "t:2")]
  assert contamination.find(rows, EVALS) == []
  contamination.refuse([], "tuning set t")  # nothing to refuse
