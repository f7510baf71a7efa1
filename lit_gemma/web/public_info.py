"""What `/get_info` may tell a client: no absolute paths of the server.

Model and dataset descriptions name where they were loaded from
("3 prompts from /srv/data/prompts.jsonl"); a client needs the file name,
not the server's folders.
"""

from __future__ import annotations

import re
from typing import Any

# An absolute path's folders: "/a/b/" of "/a/b/c.jsonl" (not "://host/").
_FOLDERS = re.compile(r"(?<![\w.:/~])(?:~|[A-Za-z]:)?/(?:[^\s/'\"]+/)+")


def without_folders(text: str) -> str:
  """`text` with every absolute path cut to its last part."""
  return _FOLDERS.sub("", text)


def scrubbed(info: dict[str, Any]) -> dict[str, Any]:
  """LIT's metadata with model and dataset descriptions path-free."""
  for section in ("models", "datasets"):
    for entry in info.get(section, {}).values():
      if isinstance(entry.get("description"), str):
        entry["description"] = without_folders(entry["description"])
  return info
