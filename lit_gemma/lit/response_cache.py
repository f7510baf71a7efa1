"""Generated responses kept on disk, so a restart shows the data table
without generating again.

SQLite (never pickle): one row per (model identity, prompt, generation
settings), safe to share between the threads of one server and between
processes. The package ships the embedded model's responses to the bundled
sets (`BUNDLED`, written by scripts/bundled_responses.py through the
server's own generation model): `seed` adds them, so a fresh clone's first
visit shows them without minutes of generation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
import sqlite3
import threading
from collections.abc import Iterator, Mapping

from lit_gemma import paths

# The embedded model's responses to the bundled sets' prompts, at the
# default settings (a file `write_seed` wrote).
BUNDLED = (pathlib.Path(__file__).resolve().parents[1] / "bundled_sets" /
           "responses.json")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
  key TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  prompt TEXT NOT NULL,
  settings TEXT NOT NULL,
  response TEXT NOT NULL,
  created REAL NOT NULL DEFAULT (julianday('now'))
);
CREATE TABLE IF NOT EXISTS prepared (
  key TEXT PRIMARY KEY,
  created REAL NOT NULL DEFAULT (julianday('now'))
)
"""


class ResponseCache:
  """A persistent map (model, prompt, settings) -> generated response."""

  def __init__(self, path: pathlib.Path | str | None = None):
    self.path = pathlib.Path(path or paths.responses_dir() / "responses.sqlite")
    self.path.parent.mkdir(parents=True, exist_ok=True)
    self._lock = threading.Lock()
    with self._connect() as db:
      db.execute("PRAGMA journal_mode=WAL")
      db.executescript(_SCHEMA)

  @contextlib.contextmanager
  def _connect(self) -> Iterator[sqlite3.Connection]:
    """A connection that commits on success and is always closed."""
    db = sqlite3.connect(self.path, timeout=30)
    try:
      with db:
        yield db
    finally:
      db.close()

  @staticmethod
  def _key(model: str, prompt: str, settings: str) -> str:
    return hashlib.sha256(
        json.dumps([model, prompt, settings]).encode()).hexdigest()

  @staticmethod
  def _settings(settings: Mapping) -> str:
    return json.dumps(dict(settings), sort_keys=True)

  def get_many(self, model: str, prompts: list[str],
               settings: Mapping) -> list[str | None]:
    """Cached responses, None where a prompt has none."""
    settings_json = self._settings(settings)
    keys = [self._key(model, p, settings_json) for p in prompts]
    with self._lock, self._connect() as db:
      found = {}
      for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(
            f"SELECT key, response FROM responses WHERE key IN ({marks})",
            chunk).fetchall())
    return [found.get(k) for k in keys]

  def put_many(self, model: str, prompts: list[str], responses: list[str],
               settings: Mapping) -> None:
    settings_json = self._settings(settings)
    rows = [(self._key(model, p, settings_json), model, p, settings_json, r)
            for p, r in zip(prompts, responses)]
    with self._lock, self._connect() as db:
      db.executemany(
          "INSERT OR REPLACE INTO responses (key, model, prompt, settings, "
          "response) VALUES (?, ?, ?, ?, ?)", rows)

  def seed(self, path: pathlib.Path | str = BUNDLED) -> int:
    """Adds the responses of a `write_seed` file that are not here yet
    (one generated here is kept); returns how many were new. They match
    only the model identity and settings they were generated with."""
    seed = json.loads(pathlib.Path(path).read_text("utf-8"))
    settings_json = self._settings(seed["settings"])
    rows = [(self._key(seed["model"], p, settings_json), seed["model"], p,
             settings_json, r) for p, r in seed["responses"].items()]
    with self._lock, self._connect() as db:
      before = db.total_changes
      db.executemany(
          "INSERT OR IGNORE INTO responses (key, model, prompt, settings, "
          "response) VALUES (?, ?, ?, ?, ?)", rows)
      return db.total_changes - before

  def write_seed(self, path: pathlib.Path | str, model: str,
                 prompts: list[str], settings: Mapping) -> None:
    """Writes the cached responses of `prompts` as a file `seed` reads;
    KeyError names a prompt without one."""
    found = self.get_many(model, prompts, settings)
    missing = [p for p, r in zip(prompts, found) if r is None]
    if missing:
      raise KeyError(f"no cached response for {len(missing)} prompt(s), "
                     f"the first: {missing[0][:80]!r}")
    pathlib.Path(path).write_text(json.dumps(
        {"model": model, "settings": dict(settings),
         "responses": dict(zip(prompts, found))}, indent=1,
        ensure_ascii=False, sort_keys=True) + "\n", "utf-8")

  def is_prepared(self, key: str) -> bool:
    """Whether `mark_prepared(key)` was called (serve/prepared.py: a
    set of responses known to be here, checked without loading a model)."""
    with self._lock, self._connect() as db:
      return db.execute("SELECT 1 FROM prepared WHERE key = ?",
                        (key,)).fetchone() is not None

  def mark_prepared(self, key: str) -> None:
    with self._lock, self._connect() as db:
      db.execute("INSERT OR REPLACE INTO prepared (key) VALUES (?)", (key,))

  def __len__(self) -> int:
    with self._lock, self._connect() as db:
      return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
