"""A `batch` run split over machines (`--shard I/N`, or a Cloud Run job's
task variables) and `lit-gemma merge`, which puts the shards' files back
together.

Shards are 0-based, as Cloud Run's CLOUD_RUN_TASK_INDEX is: shard I of N
explains the examples whose index modulo N is I, so every machine gets a
share of every part of the file, and writes `OUT` with `.shard-I-of-N`
before its extension (each shard file resumes as an unsharded run does).
`--shard` wins over the task variables, so a task can be rerun by hand.
`merge` refuses to write anything unless every example of the dataset is
in the shard files exactly once.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
from collections.abc import Mapping, Sequence

from lit_gemma.prompts import files
from lit_gemma import errors

TASK_INDEX = "CLOUD_RUN_TASK_INDEX"
TASK_COUNT = "CLOUD_RUN_TASK_COUNT"


@dataclasses.dataclass(frozen=True)
class Shard:
  index: int  # 0-based
  count: int

  def owns(self, example_index: int) -> bool:
    return example_index % self.count == self.index

  def path(self, out_path: str) -> str:
    """`results.jsonl` -> `results.shard-0-of-4.jsonl`."""
    stem, ext = os.path.splitext(out_path)
    return f"{stem}.shard-{self.index}-of-{self.count}{ext}"


def parse(value: str, where: str = "--shard") -> Shard:
  """`I/N` with 0 <= I < N; anything else is one line naming `where`."""
  match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value or "")
  if not match:
    raise errors.ConfigError(f"{where}={value!r}: expected I/N, the 0-based "
                             "shard index and the shard count, e.g. 0/4")
  index, count = int(match[1]), int(match[2])
  if count < 1 or index >= count:
    raise errors.ConfigError(f"{where}={value!r}: the index must be 0 to "
                             f"count - 1 (shards are 0-based), count >= 1")
  return Shard(index, count)


def resolve(flag: str | None, environ: Mapping[str, str] | None = None
            ) -> Shard | None:
  """The shard of this run: the flag, else the Cloud Run task variables,
  else None (one unsharded run; so is 0/1)."""
  environ = os.environ if environ is None else environ
  if flag is not None:
    shard = parse(flag)
  elif environ.get(TASK_INDEX) is not None or environ.get(TASK_COUNT):
    index, count = environ.get(TASK_INDEX, ""), environ.get(TASK_COUNT, "")
    shard = parse(f"{index}/{count}",
                  f"{TASK_INDEX}/{TASK_COUNT} (from the environment)")
  else:
    return None
  return None if shard.count == 1 else shard


def shard_files(out_path: str) -> list[str]:
  """The shard files beside `out_path` (`OUT.shard-*-of-*`)."""
  stem, ext = os.path.splitext(out_path)
  return sorted(glob.glob(f"{glob.escape(stem)}.shard-*-of-*{ext}"))


@dataclasses.dataclass
class Merged:
  records: list[dict]  # in the dataset's order; complete only if ok
  missing: list[int]  # example indices in no shard file
  duplicated: dict[int, list[str]]  # example index -> its `file:line`s

  @property
  def ok(self) -> bool:
    return not self.missing and not self.duplicated


def _examples(indices: Sequence[int], ids: Sequence[str], limit: int = 10
              ) -> str:
  shown = ", ".join(f"{i} (id {ids[i]})" for i in indices[:limit])
  more = len(indices) - limit
  return shown + (f" and {more} more" if more > 0 else "")


def problems(merged: Merged, ids: Sequence[str]) -> list[str]:
  """One line for the missing examples, one for the duplicated ones."""
  lines = []
  if merged.missing:
    lines.append(f"{len(merged.missing)} example(s) in no shard file: "
                 f"example {_examples(merged.missing, ids)}; rerun their "
                 "shard (it resumes)")
  if merged.duplicated:
    where = "; ".join(f"example {i} (id {ids[i]}) at {', '.join(places)}"
                      for i, places in list(merged.duplicated.items())[:10])
    lines.append(f"{len(merged.duplicated)} example(s) in more than one "
                 f"place: {where}")
  return lines


def merge(ids: Sequence[str], paths: Sequence[str]) -> Merged:
  """Reads the shard files; every line must be a result of one of `ids`
  (the dataset's example ids, batch.example_ids)."""
  position = {key: i for i, key in enumerate(ids)}
  found: dict[int, list[tuple[str, dict]]] = {}
  for path in paths:
    try:
      with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    except OSError as e:
      raise files.DataError(path, e.strerror or str(e)) from None
    for number, line in enumerate(lines, 1):
      try:
        record = json.loads(line)
        key = record["id"]
      except (json.JSONDecodeError, KeyError, TypeError):
        raise files.DataError(
            path, "not a results line of lit-gemma batch (a JSON object "
            "with an 'id')", line=number) from None
      if key not in position:
        raise files.DataError(
            path, f"id {key!r} is no example of the dataset (another "
            "dataset's results, or a different --max-examples?)",
            line=number, field="id")
      found.setdefault(position[key], []).append((f"{path}:{number}",
                                                  record))
  missing = [i for i in range(len(ids)) if i not in found]
  duplicated = {i: [place for place, _ in hits]
                for i, hits in sorted(found.items()) if len(hits) > 1}
  records = [found[i][0][1] for i in range(len(ids)) if i in found]
  return Merged(records, missing, duplicated)


def write(records: Sequence[dict], out_path: str) -> None:
  """The merged file, as one unsharded `batch` run writes it."""
  tmp = out_path + ".tmp"
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      for record in records:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, out_path)
  except OSError as e:
    raise errors.ConfigError(f"--out {out_path}: {e.strerror}") from None
