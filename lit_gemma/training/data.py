"""What `tune` learns from and what it holds out, read from a JSONL or CSV
file: a tuning set (tuning/sets.py: SFT rows, preference rows) or a prompt
file (`prompt`, `target`, and for preferences a `foil`, the response the
target is preferred to).

Rows marked `split: eval` (prompts/splits.py), and every row of an
`--eval_set` file, are held out: never trained on, measured before and
after. The texts compared for contamination are the rows' queries, as the
hygiene review reads them (tuning/hygiene.py), one per row with its
file:line.
"""

from __future__ import annotations

import dataclasses
import os

from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import splits
from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import Row
from lit_gemma.prompts.files import read_text
from lit_gemma.training.batches import Preference
from lit_gemma.training.batches import Sft
from lit_gemma.tuning import hygiene
from lit_gemma.tuning import sets

FORMATS = sets.FORMATS


@dataclasses.dataclass(frozen=True)
class TuningData:
  """Examples to train on and to hold out, and the queries of each side
  (hygiene.Query: text and file:line) for the contamination check."""

  train: list
  held_out: list
  train_queries: list
  eval_queries: list


def _records(path: str, chat_format: str) -> list[tuple[Row, dict]]:
  """(source row, datapoint) pairs: one per row, two per preference row."""
  rows = sets.read_rows(path, read_text(path))
  if sets.is_tuning_set(path, sets.columns(rows)):
    _, records = sets.records(path, rows, chat_format_names=(chat_format,))
    by_line = {row.line: row for row in rows}
    return [(by_line[r.line], r.data) for r in records]
  for row in rows:
    if not isinstance(row.data.get(fields.PROMPT), str):
      raise row.error(f"missing required field '{fields.PROMPT}' (a "
                      "prompt file, or a tuning set with 'query')",
                      fields.PROMPT)
  return [(row, row.data) for row in rows]


def _example(data: dict, preference: bool):
  """An Sft or Preference example of a datapoint, or None (the rejected
  side of a pair, a prompt-only row, a row without a foil)."""
  prompt = str(data.get(fields.PROMPT) or "")
  target = str(data.get(fields.TARGET) or "")
  chosen = data.get(fields.IS_PREFERRED)
  if not target or chosen is False or str(chosen).lower() == "false":
    return None
  if not preference:
    return Sft(prompt, target)
  other = str(data.get(fields.PAIRED_TARGET) or data.get(fields.FOIL) or "")
  return Preference(prompt, target, other) if other else None


def read(path: str, eval_set: str | None = None, preference: bool = False,
         chat_format: str = chat_formats.DEFAULT) -> TuningData:
  """The examples of `path` (rows marked eval held out) and of `eval_set`
  (all held out); DataError on a bad file, UserError when nothing is left
  to train on."""
  path = os.fspath(path)
  for name in (path, eval_set):
    if name is not None and not os.fspath(name).lower().endswith(FORMATS):
      raise DataError(os.fspath(name), "tune reads a JSONL or CSV file (a "
                      "tuning set or a prompt file with targets)")
  train, held_out = [], []
  train_lines, eval_lines = set(), set()
  for row, data in _records(path, chat_format):
    split = splits.of_row(row)
    example = _example(data, preference)
    if example is not None:
      (held_out if split == fields.EVAL else train).append(example)
    (eval_lines if split == fields.EVAL else train_lines).add(row.line)
  queries = hygiene.read_queries(path)
  rows = sets.read_rows(path, read_text(path))
  train_queries = [q for q, r in zip(queries, rows) if r.line in train_lines]
  eval_queries = [q for q, r in zip(queries, rows) if r.line in eval_lines]
  if eval_set is not None:
    eval_set = os.fspath(eval_set)
    held_out += [e for _, d in _records(eval_set, chat_format)
                 if (e := _example(d, preference)) is not None]
    eval_queries += hygiene.read_queries(eval_set)
  what = ("preference pairs (a preference set, or rows with a 'foil')"
          if preference else "rows with a target")
  if not train:
    raise errors.UserError(f"{path}: no {what} to train on (rows marked "
                           f"'{fields.SPLIT}: {fields.EVAL}' are held out)")
  return TuningData(train, held_out, train_queries, eval_queries)
