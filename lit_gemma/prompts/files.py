"""Reading rows from prompt data files, with errors a user can act on.

Both the dataset loaders (`lit/datasets.py`) and the prompt templates
(`templates.py`, for `rows_file`) read CSV and JSONL, so the readers live here,
below both. Every problem is reported as a `DataError` whose text is one line
naming the file, the line and the field (`file:LINE: message`), so that a
server can print it and stop without a traceback. Nothing here drops a row:
only blank lines, which are not rows, are skipped.

Paths typed into the LIT UI are untrusted; `resolve_under()` is the one check
that keeps them (and any `rows_file` they name) inside a data root.
"""

import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import yaml

from lit_gemma import fields
from lit_gemma import errors

# Blank-only files count as empty: an empty table is always a mistake.
EMPTY_FILE = "empty file: no examples (an empty dataset is an error)"


class DataError(errors.UserError):
  """Bad input data; `str()` is one line: `file:LINE: message`."""

  def __init__(
      self,
      path: str,
      message: str,
      line: int | None = None,
      field: str | None = None,
  ):
    self.path = str(path)
    self.line = line
    self.field = field
    self.message = message
    location = self.path if line is None else f"{self.path}:{line}"
    super().__init__(f"{location}: {message}")


@dataclasses.dataclass(frozen=True)
class Row:
  """One record read from a file, with where it came from."""

  path: str
  line: int | None  # 1-based line of the record's start; None if unknown.
  data: dict[str, Any]
  context: str = ""  # Said before the message, e.g. "template 'x', rows[2]".

  def error(self, message: str, field: str | None = None) -> DataError:
    """A DataError located at this row."""
    if self.context:
      message = f"{self.context}: {message}"
    return DataError(self.path, message, line=self.line, field=field)


def type_name(value: Any) -> str:
  """JSON's name for a Python value's type, for error messages."""
  if value is None:
    return "null"
  if isinstance(value, bool):
    return "a boolean"
  if isinstance(value, (int, float)):
    return "a number"
  if isinstance(value, str):
    return "a string"
  if isinstance(value, (list, tuple)):
    return "a list"
  if isinstance(value, dict):
    return "a mapping"
  return type(value).__name__


def resolve_under(path: str, root: str | os.PathLike[str] | None) -> str:
  """Resolves `path` (relative paths against `root`) and keeps it in `root`.

  Symlinks and `..` are resolved before the check, so neither can escape.

  Args:
    path: a path as a user typed it.
    root: the only folder that may be read; None refuses every path.

  Returns:
    The resolved absolute path.

  Raises:
    DataError: the path is outside `root`, or `root` is None.
  """
  if root is None:
    raise DataError(
        path,
        "refused: loading datasets by path is disabled; start the server "
        "with --data_root=DIR to allow files under DIR",
    )
  real_root = os.path.realpath(root)
  joined = os.path.join(real_root, os.fspath(path))  # absolute path wins
  real = os.path.realpath(joined)
  if os.path.commonpath([real, real_root]) != real_root:
    raise DataError(
        path, f"refused: the path is outside the data root {real_root}"
    )
  return real


def read_text(path: str) -> str:
  """The file's text (UTF-8, optional BOM); a DataError if unreadable."""
  if not os.path.exists(path):
    raise DataError(path, "file not found")
  if os.path.isdir(path):
    raise DataError(path, "is a directory, not a file")
  try:
    with open(path, "rb") as f:
      raw = f.read()
  except OSError as e:
    raise DataError(path, f"cannot read: {e.strerror}") from None
  try:
    return raw.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    line = raw.count(b"\n", 0, e.start) + 1
    raise DataError(
        path, f"not UTF-8 text (byte 0x{raw[e.start]:02x})", line=line
    ) from None


def _lines(text: str) -> Iterator[tuple[int, str]]:
  """(1-based line number, line without its line break)."""
  # Only \n and \r\n end a line: str.splitlines() would also split on
  # characters like \x0c or \u2028 that may sit inside a JSON string.
  for number, line in enumerate(text.split("\n"), start=1):
    yield number, line.removesuffix("\r")


def read_jsonl(path: str, text: str) -> Iterator[Row]:
  """One JSON object a line; blank lines are skipped."""
  count = 0
  for number, line in _lines(text):
    if not line.strip():
      continue
    try:
      data = json.loads(line)
    except json.JSONDecodeError as e:
      raise DataError(
          path, f"invalid JSON: {e.msg} (column {e.colno})", line=number
      ) from None
    if not isinstance(data, dict):
      raise DataError(
          path, f"expected a JSON object, got {type_name(data)}", line=number
      )
    count += 1
    yield Row(path, number, data)
  if not count:
    raise DataError(path, EMPTY_FILE)


def read_csv(
    path: str, text: str, required: Sequence[str] = ()
) -> Iterator[Row]:
  """A header row, then one record a row (quoted cells may span lines).

  Args:
    path: named in errors.
    text: the file's text.
    required: columns the header must have.
  """
  lines = io.StringIO(text, newline="").readlines()  # Ends as csv sees them.
  reader = csv.reader(lines, strict=True)
  header: list[str] | None = None
  count = 0
  while True:
    start = reader.line_num + 1
    try:
      cells = next(reader)
    except StopIteration:
      break
    except csv.Error as e:
      raise DataError(path, f"invalid CSV: {e}", line=start) from None
    if not "".join(lines[start - 1:reader.line_num]).strip():
      continue  # A blank line (a quoted empty cell is a row).
    if header is None:
      header = [c.strip() for c in cells]
      for i, name in enumerate(header):
        if not name:
          raise DataError(
              path, f"empty column name in the header (column {i + 1})",
              line=start,
          )
        if header.index(name) != i:
          raise DataError(
              path, f"duplicate column '{name}' in the header", line=start,
              field=name,
          )
      for name in required:
        if name not in header:
          raise DataError(
              path, f"missing required field '{name}' in the header "
              f"(columns: {', '.join(header)})", line=start, field=name,
          )
      continue
    if len(cells) != len(header):
      raise DataError(
          path,
          f"row has {len(cells)} cell{'s' if len(cells) != 1 else ''} but "
          f"the header has {len(header)} columns",
          line=start,
      )
    count += 1
    yield Row(path, start, dict(zip(header, cells)))
  if not count:
    raise DataError(
        path, "no examples after the header row" if header else EMPTY_FILE
    )


def read_txt(path: str, text: str) -> Iterator[Row]:
  r"""One prompt a line, as field `prompt`.

  Blank (whitespace-only) lines are skipped. Escapes let one line hold a
  multi-line prompt: `\n` is a newline, `\t` a tab and `\\` a backslash; any
  other backslash is kept as it is. Nothing else is stripped.
  """
  count = 0
  for number, line in _lines(text):
    if not line.strip():
      continue
    count += 1
    yield Row(path, number, {fields.PROMPT: unescape(line)})
  if not count:
    raise DataError(path, EMPTY_FILE)


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def unescape(line: str) -> str:
  r"""Replaces `\n`, `\t` and `\\`; other backslashes stay."""
  out = []
  i = 0
  while i < len(line):
    char = line[i]
    if char == "\\" and i + 1 < len(line) and line[i + 1] in _ESCAPES:
      out.append(_ESCAPES[line[i + 1]])
      i += 2
    else:
      out.append(char)
      i += 1
  return "".join(out)


def read_structured(path: str, text: str) -> Any:
  """A whole .json or .yaml/.yml document (YAML: safe types only)."""
  if path.lower().endswith(".json"):
    try:
      return json.loads(text)
    except json.JSONDecodeError as e:
      raise DataError(
          path, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno
      ) from None
  try:
    return yaml.safe_load(text)
  except yaml.YAMLError as e:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    lines = text.splitlines()
    if mark is not None and mark.line < len(lines) and ": {{" in lines[
        mark.line]:
      problem += " (quote a value that starts with {{: \"{{name}} ...\")"
    raise DataError(
        path, f"invalid YAML: {problem}",
        line=mark.line + 1 if mark is not None else None,
    ) from None

