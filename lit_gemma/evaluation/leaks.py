"""Evaluation rows that leaked into what shaped a prompt: a file whose
few-shot examples or `split: dev` rows also appear among its `split: eval`
rows judges the template on what it was written from, so `evaluate`
refuses it.

What is compared is the input of each row or example: the values of the
template's own `{{variables}}` (an example is compared on the ones it
has), or, in a prompt or tuning file, the query or the prompt's user text
(as the hygiene review reads it). The comparison is the one contamination
check every caller shares (tuning/contamination.py: exact after
normalising, or a long shared word n-gram); each finding names the file
and line of both sides.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from lit_gemma import fields
from lit_gemma.prompts import splits
from lit_gemma.prompts import template_files
from lit_gemma.prompts import templates
from lit_gemma.prompts import yaml_lines
from lit_gemma.prompts.files import read_text
from lit_gemma.tuning import contamination
from lit_gemma.tuning import hygiene
from lit_gemma.tuning import sets

TEMPLATE_FORMATS = (".json", ".yaml", ".yml")
# Row fields that are not the input a prompt is built from.
_NOT_INPUT = {fields.TARGET, fields.RESPONSE, fields.SOURCE, fields.SPLIT,
              fields.KIND, fields.FOIL, fields.TEMPLATE_ID, fields.ROUTE,
              fields.PAIRED_TARGET, fields.IS_PREFERRED}


def input_text(values: Mapping[str, Any], keys: Sequence[str] | None) -> str:
  """The values of `keys` (those present; None or none present: every
  input field), joined by spaces."""
  names = [k for k in keys or () if k in values] or [
      k for k in values if k not in _NOT_INPUT]
  return " ".join(templates.to_text(values[k]) for k in names)


def _where(path: str, lines, index: int, key: str, item: int, row=None,
           entry_id: str = "") -> str:
  if row is not None and row.line is not None:
    return f"{row.path}:{row.line}"
  line = lines.get((index, key, item))
  place = f"{path}:{line}" if line else path
  return f"{place} (template '{entry_id}', {key}[{item}])"


def _template_items(path: str) -> tuple[list, list]:
  """(shaping items, evaluation items) of a template file."""
  lines = yaml_lines.item_lines(path, read_text(path))
  shaping, evals, seen = [], [], set()
  for index, entry in enumerate(template_files.load_entries(path)):
    keys = None
    if isinstance(entry, templates.Template):
      keys = [k for k in templates.placeholders(entry.template)
              if k != templates.EXAMPLES_VARIABLE]
      for i, example in enumerate(entry.examples):
        shaping.append(contamination.Text(
            input_text(example, keys),
            _where(path, lines, index, "examples", i, entry_id=entry.id)))
    if entry.rows is None and entry.rows_file is None:
      continue  # only a router's target
    for i, row in enumerate(template_files.read_rows(entry)):
      where = _where(path, lines, index, "rows", i, row, entry.id)
      split = splits.of_row(row)
      if (where, split) in seen or not split:
        continue
      seen.add((where, split))
      item = contamination.Text(input_text(row.data, keys), where)
      (evals if split == fields.EVAL else shaping).append(item)
  return shaping, evals


def _row_items(path: str) -> tuple[list, list]:
  """(dev items, evaluation items) of a JSONL or CSV file."""
  rows = sets.read_rows(path, read_text(path))
  queries = hygiene.read_queries(path)
  shaping, evals = [], []
  for row, query in zip(rows, queries):
    split = splits.of_row(row)
    if split:
      item = contamination.Text(query.text, query.where)
      (evals if split == fields.EVAL else shaping).append(item)
  return shaping, evals


def find(path: str) -> list[contamination.Match]:
  """Every few-shot example or dev row of the file found among its
  evaluation rows."""
  path = os.fspath(path)
  ext = os.path.splitext(path)[1].lower()
  if ext in TEMPLATE_FORMATS:
    shaping, evals = _template_items(path)
  elif ext in sets.FORMATS:
    shaping, evals = _row_items(path)
  else:
    return []
  return contamination.find(shaping, evals)


def refuse(path: str, allow: bool = False,
           flag: str = "--allow_contamination") -> list[
               contamination.Match]:
  """Raises ContaminationError (one line, both files and lines) unless the
  file is clean or `allow`; returns the matches."""
  found = find(path)
  if not allow:
    contamination.refuse(
        found, f"{path} (few-shot examples, dev rows)",
        f"keep evaluation rows apart from what the prompt was written on "
        f"(or pass {flag})")
  return found

