"""Where each inline row and few-shot example of a YAML template file is
written, so that a finding about one (an example that leaks into the
evaluation rows) can name its file and line. Loading the file gives plain
values without positions; this composes the YAML again for them. JSON
template files give none (their items are named by index instead).
"""

from __future__ import annotations

import yaml

# (template index, "rows" or "examples", item index) -> 1-based line
Lines = dict[tuple[int, str, int], int]


def item_lines(path: str, text: str) -> Lines:
  """The line of each item of every template's `rows` and `examples`
  lists (a YAML alias points at the anchored list it repeats)."""
  if path.lower().endswith(".json"):
    return {}
  try:
    root = yaml.compose(text)
  except yaml.YAMLError:
    return {}
  if isinstance(root, yaml.MappingNode):
    entries = [root]
  elif isinstance(root, yaml.SequenceNode):
    entries = list(root.value)
  else:
    return {}
  found: Lines = {}
  for index, entry in enumerate(entries):
    if not isinstance(entry, yaml.MappingNode):
      continue
    for key, value in entry.value:
      if key.value in ("rows", "examples") and isinstance(
          value, yaml.SequenceNode):
        for item_index, item in enumerate(value.value):
          found[(index, key.value, item_index)] = item.start_mark.line + 1
  return found
