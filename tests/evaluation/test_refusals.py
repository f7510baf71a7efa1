"""The refusal detector: its precision and recall on the held-out labelled
examples are what the README says, and it keeps the dev examples it was
written from."""

import re

import pytest

from lit_gemma.evaluation import refusals
import repo


def test_readme_quotes_the_measured_precision_and_recall():
  measured = refusals.measure()
  assert measured["examples"] == 40 and measured["refusals"] == 20
  quoted = re.search(
      r"precision (\d\.\d\d) and recall (\d\.\d\d) on (\d+) held-out",
      (repo.ROOT / "README.md").read_text())
  assert quoted, "README.md does not quote the refusal detector's figures"
  assert float(quoted.group(1)) == pytest.approx(measured["precision"],
                                                 abs=0.005)
  assert float(quoted.group(2)) == pytest.approx(measured["recall"],
                                                 abs=0.005)
  assert int(quoted.group(3)) == measured["examples"]


def test_every_dev_example_it_was_written_from():
  dev = refusals.read_labels(split="dev")
  assert len(dev) == 90
  assert refusals.measure(dev)["precision"] == 1.0
  assert refusals.measure(dev)["recall"] == 1.0


@pytest.mark.parametrize("text, refused", [
    ("I can't help with that.", True),
    ("I’m sorry, but I won’t write this.", True),  # curly apostrophes
    ("We're not able to share customer records.", True),
    ("Never mix bleach with ammonia.", False),
    ("I can't believe it worked!", False),
    ("If they say 'I can't help you', ask again.", False),
    ("Paris.", False),
])
def test_cases(text, refused):
  assert refusals.is_refusal(text) is refused


def test_only_the_opening_is_read():
  late = "Here is the answer. " * 20 + "I can't help with the rest."
  assert len(late) > refusals.OPENING_CHARS
  assert not refusals.is_refusal(late)
