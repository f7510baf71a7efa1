"""The queries a review compares, read from any dataset file, with where each
came from and the row fields the checks read.

A tuning set gives one query a row (a preference row is one query with its
two responses); a prompt file (JSONL, CSV, text, templates) gives its
prompts with chat markup of every format taken off, so they compare with
queries. Nothing here imports LIT or Keras.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from lit_gemma import fields
from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import splits
from lit_gemma.prompts import template_files
from lit_gemma.prompts import templates
from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import Row
from lit_gemma.prompts.files import read_csv
from lit_gemma.prompts.files import read_text
from lit_gemma.prompts.files import read_txt
from lit_gemma.tuning import matching
from lit_gemma.tuning import sets

# Row fields the checks read (all optional).
POLICY, USE_CASE, KIND, LABEL = "policy", "use_case", "kind", "label"
ADVERSARIAL, BENIGN = "adversarial", "benign"
SAFE, UNSAFE = "safe", "unsafe"


@dataclasses.dataclass(frozen=True)
class Query:
  """One query of a data file, with where it came from."""

  text: str
  where: str  # "file:LINE" or "file (template 'x')"
  policy: str = ""
  use_case: str = ""
  responses: tuple[str, ...] = ()  # a preference row's two responses
  preferred: int = 0  # 1 or 2 on a preference row
  response: str = ""  # an SFT row's response
  line: int | None = None  # the row's first line in its file
  meta: dict[str, str] = dataclasses.field(default_factory=dict,
                                           compare=False, hash=False)

  def as_dict(self) -> dict[str, str]:
    return {"where": self.where, "text": self.text}

  def field(self, name: str) -> str:
    """A row field as text ("" when absent), lower-cased and trimmed."""
    return self.meta.get(name, "").strip().lower()

  @property
  def kind(self) -> str:
    """adversarial, benign or "" (the row's `kind`)."""
    return self.field(KIND)

  @property
  def split(self) -> str:
    return self.field(fields.SPLIT)

  @property
  def chosen(self) -> str:
    return self.responses[self.preferred - 1] if self.preferred else ""

  @property
  def rejected(self) -> str:
    return self.responses[2 - self.preferred] if self.preferred else ""


def user_text(prompt: str) -> str:
  """A chat prompt's first user turn (any format); other prompts without
  their markup."""
  for chat in chat_formats.FORMATS.values():
    if prompt.startswith(chat.user_start) and chat.turn_end in prompt:
      return prompt[len(chat.user_start):prompt.index(chat.turn_end)]
  return matching.strip_markup(prompt)


def read_queries(path: str | os.PathLike[str]) -> list[Query]:
  """The queries of a tuning set, or the prompts of any prompt file; a
  DataError (file, line, field) on bad input."""
  path = os.fspath(path)
  ext = os.path.splitext(path)[1].lower()
  if ext in (".json", ".yaml", ".yml"):
    rows = template_files.render_file(path)
  elif ext in (".jsonl", ".csv"):
    rows = sets.read_rows(path, read_text(path))
    if sets.is_tuning_set(path, sets.columns(rows)):
      return [_query(row, text) for row, text in sets.queries(path)]
    if ext == ".csv":  # Again, for the header's own error.
      rows = list(read_csv(path, read_text(path), required=("prompt",)))
  elif ext == ".txt":
    rows = list(read_txt(path, read_text(path)))
  else:
    raise DataError(path, f"unknown dataset format '{ext}'")
  out = []
  for row in rows:
    prompt = row.data.get("prompt")
    if not isinstance(prompt, str) or not prompt:
      raise row.error("missing required field 'prompt'", "prompt")
    out.append(_query(row, user_text(prompt)))
  return out


def _text(value: Any) -> str:
  return "" if value is None else templates.to_text(value)


def _query(row: Row, text: str) -> Query:
  where = f"{row.path}:{row.line}" if row.line else row.path
  if row.context and not row.line:
    where = f"{row.path} ({row.context})"
  if fields.SPLIT in row.data:
    splits.of_row(row)  # a misspelt split names file, line and field
  responses, preferred = (), 0
  if all(c in row.data for c in sets.PAIR_COLUMNS):
    responses = tuple(_text(row.data[f"response_{i}"]) for i in (1, 2))
    preferred = int(str(row.data["preferred"]).strip())
  meta = {str(k): _text(v) for k, v in row.data.items()
          if k not in ("prompt", "query", "response") + sets.PAIR_COLUMNS}
  return Query(text, where, _text(row.data.get(POLICY)),
               _text(row.data.get(USE_CASE)), responses, preferred,
               _text(row.data.get("response")) if "query" in row.data else "",
               row.line, meta)
