"""Tuning sets (SFT, preference, prompt-only RL) read as prompt datapoints.

A JSONL or CSV file whose columns include `query` and not `prompt` is a
tuning set; `datasets.load()` hands it here. Its shape follows its columns:

  sft          query, response, optional policy, use_case and metadata.
               One datapoint a row: prompt = the query rendered through a
               template (default: Gemma chat turns), target = the response.
  preference   query, response_1, response_2, preferred (1 or 2), metadata.
               Two datapoints a row, one per response as the target, with
               `pair_id`, `response_index` (1 or 2), `is_preferred` (bool),
               `preference` ("chosen" / "rejected") and `paired_target`
               (the other response, so lit/columns/scoring.py can rank the pair),
               which is also the datapoint's `foil` (contrastive maps: why
               this response rather than the other).
  prompts      query and metadata, no response: an RL prompt set; the
               target is "".

Two meanings of "response" are kept apart. In a prompt set (lit/datasets.py) a
`response` column is text LIT shows instead of generating. In a tuning set
`response` is the tuning target: it becomes the datapoint's `target`, and the
datapoint has no `response` field, so LIT still generates.

Every datapoint keeps `query` (the untemplated text, which hygiene.py
compares) and the row's metadata. Bad input raises `DataError`, one line
naming file, line and field. No Keras or LIT import here.
"""

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import templates
from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import Row
from lit_gemma.prompts.files import read_csv
from lit_gemma.prompts.files import read_jsonl
from lit_gemma.prompts.files import read_text
from lit_gemma.prompts.files import type_name

QUERY = "query"
SFT, PREFERENCE, PROMPTS = "sft", "preference", "prompts"
PAIR_COLUMNS = ("response_1", "response_2", "preferred")
# Fields a tuning datapoint sets itself: a column of that name is refused.
_SET_HERE = ("prompt", "target", "paired_target", "pair_id", "response_index",
             "is_preferred", "preference")
FORMATS = (".jsonl", ".csv")

# A template: text with `{{query}}` (and any other column) placeholders, or a
# function of the row's values; None means Gemma chat turns.
QueryTemplate = str | Callable[[dict[str, Any]], str] | None


def read_rows(path: str, text: str) -> list[Row]:
  """Every record of a JSONL or CSV file (no column is required here)."""
  reader = read_csv if path.lower().endswith(".csv") else read_jsonl
  return list(reader(path, text))


def columns(rows: Iterable[Row]) -> list[str]:
  """Field names over all rows, first seen first."""
  seen: dict[str, None] = {}
  for row in rows:
    for key in row.data:
      seen.setdefault(key, None)
  return list(seen)


def is_tuning_set(path: str, names: Iterable[str]) -> bool:
  """True for `query` without `prompt`; both at once is refused."""
  names = set(names)
  if QUERY not in names:
    return False
  if "prompt" in names:
    raise DataError(
        path, "has both 'prompt' and 'query' columns: drop 'query' for a "
        "prompt set, or drop 'prompt' for a tuning set (the prompt is then "
        "the query rendered through a template)", field="query",
    )
  return True


def shape_of(path: str, names: Iterable[str]) -> str:
  """sft, preference or prompts, from a tuning set's columns."""
  names = set(names)
  pair = [c for c in PAIR_COLUMNS if c in names]
  if pair and "response" in names:
    raise DataError(
        path, "has 'response' and preference columns "
        f"({', '.join(pair)}): an SFT set has 'response', a preference set "
        "'response_1', 'response_2' and 'preferred'; keep one shape",
        field="response",
    )
  if pair:
    missing = [c for c in PAIR_COLUMNS if c not in names]
    if missing:
      raise DataError(
          path, f"preference set without {', '.join(repr(c) for c in missing)}"
          " (a preference set needs 'response_1', 'response_2' and "
          "'preferred')", field=missing[0],
      )
    return PREFERENCE
  return SFT if "response" in names else PROMPTS


def _text(row: Row, field: str, required: bool = True) -> str:
  """A non-empty text cell (numbers spelled as JSON)."""
  value = row.data.get(field)
  if value is None or value == "":
    if not required:
      return ""
    what = "missing" if field not in row.data else "empty"
    raise row.error(f"{what} required field '{field}'", field)
  if isinstance(value, bool) or not isinstance(value, (str, int, float)):
    raise row.error(
        f"field '{field}' must be text, got {type_name(value)}", field)
  return templates.to_text(value)


def _preferred(row: Row) -> int:
  """1 or 2 (JSON numbers, or the text '1' / '2' as CSV gives it)."""
  value = row.data.get("preferred")
  if isinstance(value, str) and value.strip() in ("1", "2"):
    return int(value)
  if (isinstance(value, (int, float)) and not isinstance(value, bool)
      and value in (1, 2)):
    return int(value)
  shown = "nothing" if value in (None, "") else repr(value)
  raise row.error(f"field 'preferred' must be 1 or 2, got {shown}",
                  "preferred")


def prompt_for(template: QueryTemplate, row: Row, query: str,
               chat_format: str = chat_formats.DEFAULT) -> str:
  """The query rendered through the template (None: a user turn in
  `chat_format`), as the model's prompt."""
  if template is None:
    return templates.chat_prompt(query, chat_format)
  values = dict(row.data)
  values[QUERY] = query
  if callable(template):
    return template(values)
  try:
    return templates.render(template, values)
  except templates.UndefinedVariableError as e:
    raise row.error(f"query template: {e}", e.names[0]) from None


def records(
    path: str, rows: list[Row], template: QueryTemplate = None,
    chat_format_names: Sequence[str] = (chat_formats.DEFAULT,),
) -> tuple[str, list[Row]]:
  """A tuning set's rows as prompt datapoints: (shape, records).

  Args:
    path: the file, for messages.
    rows: its records, as read by `read_rows`.
    template: how a query becomes a prompt (see `QueryTemplate`).
    chat_format_names: the loaded models' chat formats: without a
      template, each datapoint is made once per format (with a
      `chat_format` field when there are several).

  Returns:
    The shape and one Row per datapoint (two per preference row), located
    at the row it came from; `datasets.from_rows` makes LIT examples of them.
  """
  names = columns(rows)
  shape = shape_of(path, names)
  for name in _SET_HERE:
    if name in names:
      bad = next(r for r in rows if name in r.data)
      raise bad.error(f"column '{name}' is set by the tuning-set reader; "
                      "rename it", name)
  formats = list(dict.fromkeys(chat_format_names)) or [chat_formats.DEFAULT]
  if template is not None:
    formats = formats[:1]
  out: list[Row] = []
  for number, row in enumerate(rows, start=1):
    query = _text(row, QUERY)
    for chat_format in formats:
      tag = {chat_formats.FIELD: chat_format} if len(formats) > 1 else {}
      out.extend(_datapoints(shape, row, number, tag,
                             prompt_for(template, row, query, chat_format)))
  return shape, out


def _datapoints(shape: str, row: Row, number: int, tag: dict,
                prompt: str) -> list[Row]:
  """The datapoints of one row for one prompt (two for a preference row)."""
  meta = {k: v for k, v in row.data.items()
          if k not in ("response",) + PAIR_COLUMNS} | tag
  if shape != PREFERENCE:
    target = _text(row, "response") if shape == SFT else ""
    return [Row(row.path, row.line, {"prompt": prompt, "target": target,
                                     **meta}, row.context)]
  preferred = _preferred(row)
  out = []
  for index in (1, 2):
    data = {"prompt": prompt, "target": _text(row, f"response_{index}"),
            **meta, "paired_target": _text(row, f"response_{3 - index}"),
            "foil": _text(row, f"response_{3 - index}"),
            "pair_id": f"pair-{number}", "response_index": index,
            "is_preferred": index == preferred,
            "preference": "chosen" if index == preferred else "rejected"}
    out.append(Row(row.path, row.line, data, row.context))
  return out


def queries(path: str | os.PathLike[str]) -> list[tuple[Row, str]]:
  """(row, query text) for every row of a tuning set, one per query.

  Hygiene compares queries, not datapoints: a preference row is one query.
  Every row is checked as `records()` checks it.
  """
  path = os.fspath(path)
  rows = read_rows(path, read_text(path))
  if not is_tuning_set(path, columns(rows)):
    raise DataError(path, "not a tuning set: no 'query' column")
  records(path, rows)  # The same checks as loading it.
  return [(row, _text(row, QUERY)) for row in rows]
