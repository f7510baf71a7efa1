"""Checks the GGUF tests share: what a conversion left in the cache, and
one-line errors."""

import pathlib


def cache_entries(cache: pathlib.Path) -> list[str]:
  """What a conversion left in a cache's models folder, besides the
  remembered sha256 index."""
  models = cache / "models"
  if not models.exists():
    return []
  return sorted(p.name for p in models.iterdir() if p.name != "sha256")


def assert_one_line_error(excinfo, *fragments: str) -> None:
  message = str(excinfo.value)
  assert "\n" not in message, message
  for fragment in fragments:
    assert fragment in message, message
