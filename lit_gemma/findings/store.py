"""The team's findings, one JSON file each in a folder that outlives the
server: a local folder, or on Cloud Run a Cloud Storage bucket mounted as
a volume (one object per finding), shared by every instance.

Append-only: a finding is written once, under a new name (its time and a
random id: `20261207T101500123456Z-3f2a9c1d0b7e.json`), opened exclusively
(O_EXCL: never over another file). Nothing here rewrites, renames or
deletes a file; a correction is a new finding. So the server needs only to
create and read: on Cloud Storage, `roles/storage.objectCreator` and
`objectViewer`, which cannot overwrite or delete an object either. A
Cloud Storage volume shows an object once it is closed; in a local folder
a reader that meets a file still being written skips it and reads it on a
later listing. Several processes may write at once: each writes only
names of its own.

Bounds, each refused with one line (`FindingRefused`, a 4xx):
  - a note of at most `max_note_chars` characters (400), a finding of at
    most `MAX_FINDING_BYTES` of JSON (413);
  - at most `max_findings` findings in the folder (403; with several
    instances writing at the same moment it can be passed by as many);
  - at most `per_author_per_minute` findings by one author in a minute,
    counted in this process (429).
Readers list the folder at most once a second and read only new files; a
file that is not a finding (hand-edited, foreign) is skipped and logged.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from absl import logging

from lit_gemma import errors

DEFAULT_MAX_FINDINGS = 1000
DEFAULT_MAX_NOTE_CHARS = 2000
DEFAULT_PER_AUTHOR_PER_MINUTE = 10
MAX_FINDING_BYTES = 256 << 10
_LIST_EVERY_S = 1.0
_SUFFIX = ".json"
# The keys of a finding (a JSON object), besides `data`: the datapoint's
# fields as LIT gave them.
KEYS = ("finding", "created", "author", "verified", "note", "dataset",
        "parent", "span", "data")


class FindingRefused(errors.RequestError):
  """A finding not kept; `http_status` and the message say why."""

  http_status = 400


def _refused(status: int, message: str) -> FindingRefused:
  error = FindingRefused(message)
  error.http_status = status
  return error


def span(model: str, target: str, target_mask: list[float],
         text: str) -> dict[str, Any]:
  """What was explained: `text`, the part of `target` under `target_mask`
  (one 0/1 per token of prompt + target, as LIT's UI sends it)."""
  return {"model": model, "target": target, "target_mask": target_mask,
          "text": text}


class FindingsStore:
  """The findings in `folder`, read and appended to.

  Args:
    folder: created if missing; ConfigError if it cannot be written.
    max_findings, max_note_chars, per_author_per_minute: the bounds.
    clock: seconds since the epoch (tests pass their own).
    writable: False to only read (`add` is then refused).
  """

  def __init__(self, folder: str, *, max_findings: int = DEFAULT_MAX_FINDINGS,
               max_note_chars: int = DEFAULT_MAX_NOTE_CHARS,
               per_author_per_minute: int = DEFAULT_PER_AUTHOR_PER_MINUTE,
               clock: Callable[[], float] = time.time, writable: bool = True):
    self.folder = os.path.abspath(folder)
    self.max_findings = max_findings
    self.max_note_chars = max_note_chars
    self.per_author_per_minute = per_author_per_minute
    self._clock = clock
    self._lock = threading.Lock()
    self._read: dict[str, dict] = {}      # file name -> finding
    self._skipped: dict[str, int] = {}    # file name -> size when skipped
    self._listed_at = -_LIST_EVERY_S
    self._recent = collections.defaultdict(collections.deque)  # author -> times
    self.writable = writable
    if writable:
      try:
        os.makedirs(self.folder, exist_ok=True)
      except OSError as e:
        raise errors.ConfigError(f"--findings_dir={folder}: cannot create it "
                                 f"({e.strerror or e})") from None
      if not os.access(self.folder, os.W_OK | os.X_OK):
        raise errors.ConfigError(f"--findings_dir={folder}: cannot write "
                                 f"there")

  # ------------------------------------------------------------- reading

  def findings(self) -> list[dict]:
    """Every finding, oldest first."""
    with self._lock:
      self._scan()
      return [self._read[name] for name in sorted(self._read)]

  def version(self) -> int:
    """Changes whenever a finding is added (here or by another process)."""
    with self._lock:
      self._scan()
      return len(self._read)

  def _scan(self) -> None:
    now = time.monotonic()
    if now - self._listed_at < _LIST_EVERY_S:
      return
    self._listed_at = now
    try:
      names = os.listdir(self.folder)
    except OSError as e:
      logging.warning("findings: cannot list %s: %s", self.folder, e)
      return
    for name in names:
      if (name.startswith(".") or not name.endswith(_SUFFIX)
          or name in self._read):
        continue
      path = os.path.join(self.folder, name)
      size = -1
      try:
        size = os.path.getsize(path)
        if self._skipped.get(name) == size:
          continue
        with open(path, encoding="utf-8") as f:
          found = json.loads(f.read(MAX_FINDING_BYTES + 1))
        _check_record(found, name)
      except (OSError, ValueError) as e:
        self._skipped[name] = size
        logging.warning("findings: %s skipped: %s", name,
                        str(e).splitlines()[0][:200])
        continue
      self._read[name] = found

  # ------------------------------------------------------------- writing

  def add(self, *, author: str, verified: bool, note: str, dataset: str,
          data: Mapping[str, Any], parent: str | None = None,
          explained: dict[str, Any] | None = None) -> dict:
    """Writes a new finding and returns it; FindingRefused past a bound."""
    if not self.writable:
      raise _refused(403, "these findings are only read here")
    note = note.strip()
    if not note:
      raise _refused(400, "a finding needs a note: type what you found in "
                     "the note field")
    if len(note) > self.max_note_chars:
      raise _refused(400, f"the note is {len(note):,} characters, over the "
                     f"limit of {self.max_note_chars:,} (--max_note_chars)")
    now = self._clock()
    created = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    finding_id = (f"{created:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}")
    record = {"finding": finding_id,
              "created": f"{created:%Y-%m-%dT%H:%M:%SZ}",
              "author": author, "verified": verified, "note": note,
              "dataset": dataset, "parent": parent, "span": explained,
              "data": dict(data)}
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    if len(text.encode()) > MAX_FINDING_BYTES:
      raise _refused(413, f"the finding is {len(text.encode()):,} bytes of "
                     f"JSON, over the limit of {MAX_FINDING_BYTES:,}")
    with self._lock:
      self._listed_at = -_LIST_EVERY_S  # Count what others wrote too.
      self._scan()
      if len(self._read) >= self.max_findings:
        raise _refused(403, f"the team's findings are full: "
                       f"{len(self._read):,} kept, the most allowed "
                       f"(--max_findings); ask whoever runs the server to "
                       f"export and archive them")
      recent = self._recent[author]
      while recent and recent[0] <= now - 60:
        recent.popleft()
      if len(recent) >= self.per_author_per_minute:
        raise _refused(429, f"{author} kept {len(recent)} findings in the "
                       f"last minute, the most allowed; wait a minute")
      name = finding_id + _SUFFIX
      self._write(name, text)
      recent.append(now)
      self._read[name] = record
    logging.info("findings: %s kept by %s%s", finding_id, author,
                 "" if verified else " (unverified)")
    return record

  def _write(self, name: str, text: str) -> None:
    """`text` as a new file `name`, never over another file."""
    final = os.path.join(self.folder, name)
    try:
      with open(final, "x", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    except OSError as e:
      logging.error("findings: cannot write %s: %s", final, e)
      raise _refused(403, "the finding could not be written; the server "
                     "log says why") from None


def read(folder: str) -> list[dict]:
  """Every finding in `folder`, oldest first; nothing is written."""
  return FindingsStore(folder, writable=False).findings()


def _check_record(found: Any, name: str) -> None:
  """ValueError unless `found` is a finding named `name`."""
  if not isinstance(found, dict) or not set(KEYS) <= set(found):
    raise ValueError("not a finding (keys missing)")
  if found["finding"] + _SUFFIX != name:
    raise ValueError(f"its id {found['finding']!r} differs from the name")
  for key in ("author", "note", "created", "dataset"):
    if not isinstance(found[key], str):
      raise ValueError(f"{key} is not text")
  if not isinstance(found["data"], dict):
    raise ValueError("data is not an object")
