"""`lit-gemma batch`: explain every example of a dataset into a JSONL file,
resumably.

Each example becomes one line: its id, its index, where its target came
from (`target`, `response`, or `generated` when the example had neither)
and the Explanation's JSON (explain/api.py; contrastive when the example
has a `foil`, and with each map's verdict under `faithfulness` with
--check), or an `error` for an example that cannot be explained (the run
goes on). A line is written with one write and
flushed, so a killed run leaves at most one partial line at the end; a rerun
drops it, skips every id already written and continues with the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence

from lit_gemma.prompts import files
from lit_gemma.lit import datasets
from lit_gemma import errors
from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma import progress
from lit_gemma.prompts import parts as parts_lib


def example_ids(examples: Sequence[dict]) -> list[str]:
  """A stable id per example, from its fields (a repeat gets a suffix)."""
  ids, seen = [], {}
  for example in examples:
    key = hashlib.sha1(json.dumps(example, sort_keys=True,
                                  default=str).encode()).hexdigest()[:16]
    seen[key] = seen.get(key, 0) + 1
    ids.append(key if seen[key] == 1 else f"{key}-{seen[key]}")
  return ids


def read_done(path: str) -> set[str]:
  """Ids already in the results file; a trailing partial line (a killed
  run's) is cut off the file."""
  if not os.path.exists(path):
    return set()
  with open(path, "rb") as f:
    data = f.read()
  complete = data[: data.rfind(b"\n") + 1]
  if len(complete) != len(data):
    with open(path, "r+b") as f:
      f.truncate(len(complete))
  done = set()
  for number, line in enumerate(complete.decode("utf-8").splitlines(), 1):
    try:
      done.add(json.loads(line)["id"])
    except (json.JSONDecodeError, KeyError, TypeError):
      raise files.DataError(
          path, "not a results line of lit-gemma batch (a JSON object with "
          "an 'id'); give --out a new file", line=number) from None
  return done


@dataclasses.dataclass
class Summary:
  written: int = 0
  skipped: int = 0
  failed: int = 0


def _append(fd: int, record: dict) -> None:
  data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
  while data:  # os.write may write less than asked
    data = data[os.write(fd, data):]


def run(backend, dataset_path: str, out_path: str, *,
        methods: Sequence[str] | None = None, check: str | None = None,
        check_options: dict | None = None, progress_stream=None,
        max_examples: int | None = None, shard=None) -> Summary:
  """Explains every example of `dataset_path` (its first `max_examples`)
  not yet in `out_path`; with a `shard` (shard_merge.Shard), only its
  share, into its own file."""
  dataset = datasets.load(dataset_path, max_examples=max_examples)
  examples = list(dataset.examples)
  ids = example_ids(examples)
  mine = [i for i in range(len(examples)) if shard is None or shard.owns(i)]
  if shard is not None:
    out_path = shard.path(out_path)
  done = read_done(out_path)
  todo = [i for i in mine if ids[i] not in done]
  summary = Summary(skipped=len(mine) - len(todo))
  shown = progress.bar("batch", len(mine), done=summary.skipped, unit="ex",
                       stream=progress_stream)
  fd = os.open(out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
  try:
    for start in range(0, len(todo), backend.batch_size):
      chunk = todo[start : start + backend.batch_size]
      records = _explain_chunk(backend, [examples[i] for i in chunk], methods,
                               check, check_options or {})
      for i, record in zip(chunk, records):
        record = {"id": ids[i], "index": i} | record
        _append(fd, record)
        summary.written += 1
        summary.failed += "error" in record
      shown.update(len(chunk))
  finally:
    os.close(fd)
    shown.close()
  return summary


def _explain_chunk(backend, examples, methods, check, check_options
                   ) -> list[dict]:
  """One record per example: generated targets first, then explanations
  in one batched call (one at a time if that fails)."""
  sources = []
  for ex in examples:
    if ex.get(fields.TARGET):
      sources.append((fields.TARGET, ex[fields.TARGET]))
    elif ex.get(fields.RESPONSE):
      sources.append((fields.RESPONSE, ex[fields.RESPONSE]))
    else:
      sources.append(("generated", None))
  need = [i for i, (_, t) in enumerate(sources) if t is None]
  if need:
    texts = backend.generate([examples[i][fields.PROMPT] for i in need])
    for i, text in zip(need, texts):
      sources[i] = ("generated", text)
  items = []
  for ex, (_, target) in zip(examples, sources):
    parts = parts_lib.parse(ex.get(fields.PROMPT_PARTS, ""))
    items.append(explain_lib.Item(ex[fields.PROMPT], target,
                                  prompt_parts=parts,
                                  foil=str(ex.get(fields.FOIL) or "")))
  try:
    results = backend.explain(items, methods)
  except errors.UserError:
    results = []
    for item in items:
      try:
        results.append(backend.explain([item], methods)[0])
      except errors.UserError as e:
        results.append(e)
  records = []
  for ex, (source, _), exp in zip(examples, sources, results):
    record = {"target_from": source}
    if fields.TEMPLATE_ID in ex:
      record[fields.TEMPLATE_ID] = ex[fields.TEMPLATE_ID]
    if not isinstance(exp, Exception) and check:
      try:
        exp = dataclasses.replace(exp, faithfulness=backend.check(
            exp, check, methods=methods, **check_options))
      except errors.UserError as e:
        record["check_error"] = str(e)
    if isinstance(exp, Exception):
      record["error"] = str(exp)
    else:
      record |= exp.to_dict()
    records.append(record)
  return records
