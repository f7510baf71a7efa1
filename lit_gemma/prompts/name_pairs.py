"""`NAME:VALUE,...` lists, the one syntax of `--models` and `--datasets`.

One parser, so that both flags (and the notebook's string forms of them)
split, strip and refuse entries the same way; each caller says what its
values are called and which error type carries the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence


def parse(value: str | Sequence[str], *, what: str, example: str,
          kind: str, error: Callable[[str], Exception],
          name_pattern: re.Pattern[str] | None = None,
          bare_name: Callable[[str], str] | None = None
          ) -> list[tuple[str, str]]:
  """Splits `value` (a flag's string, or an already split list) into
  (name, value) pairs, in order.

  Args:
    value: "NAME:VALUE,NAME:VALUE" or a list of such strings.
    what: what a value is, for messages ("SOURCE", "path").
    example: an entry to show in the message for a malformed one.
    kind: what a name names, for messages ("model", "dataset").
    error: makes the exception for a message.
    name_pattern: what a NAME may be; a head that does not match is not a
      name (so "C:/x" or "./a:b" can be a bare value). None: anything.
    bare_name: names an entry given without "NAME:"; None: refuse it.
  """
  items = [value] if isinstance(value, str) else list(value)
  pairs: list[tuple[str, str]] = []
  seen: set[str] = set()
  for entry in (e.strip() for item in items for e in item.split(",")):
    if not entry:
      continue
    head, sep, tail = entry.partition(":")
    head, tail = head.strip(), tail.strip()
    if sep and (name_pattern is None or name_pattern.fullmatch(head)):
      if not tail:
        raise error(f"entry '{entry}' has no {what} after the name")
      name, rest = head, tail
    elif bare_name is not None:
      name, rest = bare_name(entry), entry
    else:
      raise error(f"entry {entry!r} is not NAME:{what} (for example "
                  f"{example})")
    if name in seen:
      raise error(f"{kind} name '{name}' is given twice")
    seen.add(name)
    pairs.append((name, rest))
  return pairs
