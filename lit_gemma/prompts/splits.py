"""The `split` of a row: "dev" rows may shape a template or a tuning run
(few-shot examples, wording, training data), "eval" rows judge it and must
stay out of both; a row without a split is neither. One format for every
file that has rows (prompt files, template rows, tuning sets), checked where
the rows are read, so a misspelt split is an error naming the file and line,
not a row silently left out of an evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lit_gemma import fields
from lit_gemma.prompts.files import Row


def of_row(row: Row) -> str:
  """`row`'s split ("dev", "eval" or "" when it has none), or a DataError
  naming the file, line and field."""
  value = row.data.get(fields.SPLIT)
  if value is None or value == "":
    return ""
  if isinstance(value, str) and value.strip().lower() in fields.SPLITS:
    return value.strip().lower()
  raise row.error(f"field '{fields.SPLIT}' must be one of "
                  f"{', '.join(fields.SPLITS)} (or left out), got "
                  f"{value!r}", fields.SPLIT)


def of_example(example: Mapping) -> str:
  """A loaded datapoint's split ("" when it has none)."""
  return str(example.get(fields.SPLIT) or "")


def only(examples: Iterable[Mapping], split: str) -> list[Mapping]:
  """The datapoints of one split."""
  if split not in fields.SPLITS:
    raise ValueError(f"split must be one of {fields.SPLITS}, got {split!r}")
  return [ex for ex in examples if of_example(ex) == split]
