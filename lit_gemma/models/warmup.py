"""Warm-up: the salience programs the served datasets' clicks use, made
before the server says it serves, so that the printed URL is a promise
that every click is fast.

For each sequence bucket the datasets' texts fall in (prompt + target, or
prompt + a full response; up to `WARM_UP_MAX_TOKENS`) and a target of a
clicked word (`WIDTH`): the first click on a text and another span of it.
Nothing is run and no filler text is kept in place of a user's
(`SalienceEngine.lower_clicks`): the programs are only compiled, or loaded
from JAX's disk cache, on a thread per core while the next bucket traces.
After the URL no warm-up runs, so no click shares the CPU with one; a text
in another bucket (longer, or a user's own) compiles on its first click.

Owned by the model layer: it knows the loaded models and the texts they
will be asked about (the datasets).
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from absl import logging

# Warm every bucket the datasets use up to this many tokens (most common
# first); longer texts compile on their first click.
WARM_UP_MAX_TOKENS = 1024
# Target tokens warmed: a clicked word (target bucket 8). Wider selections
# (a sentence, shift-clicks past 8 tokens) compile on their first click.
WIDTH = 1


def lengths_to_warm(lm, examples: Iterable[Mapping[str, Any]],
                    max_new_tokens: int, max_length: int) -> list[int]:
  """Sequence buckets a click on `examples` uses: prompt + target, or
  prompt + a full response when there is no target, most common first."""
  from lit_gemma import fields  # pylint: disable=g-import-not-at-top
  from lit_gemma.salience import buckets  # pylint: disable=g-import-not-at-top

  counts: collections.Counter[int] = collections.Counter()
  for ex in examples:
    prompt = ex.get(fields.PROMPT, "")
    target = ex.get(fields.TARGET) or ex.get(fields.RESPONSE) or ""
    length = len(lm.encode(prompt + target))
    if not target:
      length += max_new_tokens
    length = min(length, max_length)
    if 3 <= length <= WARM_UP_MAX_TOKENS:
      counts[buckets.sequence_bucket(length)] += 1
  return [bucket for bucket, _ in counts.most_common()]


def _log(line: str) -> None:
  logging.info("lit-gemma: warm-up: %s", line)


def warm_up(lms: Mapping[str, Any], examples: Sequence[Mapping[str, Any]],
            max_new_tokens: int, max_length: int,
            report: Callable[[str], None] = _log) -> int:
  """Compiles every distinct model's click programs for `examples`' text
  lengths; returns how many (bucket, model) pairs are ready. Reports one
  line per bucket (progress) and a last "done" line. Errors are reported
  and swallowed: a bucket that failed compiles on its first click."""
  from lit_gemma.salience import compilation  # pylint: disable=g-import-not-at-top  (JAX: loaded with the model)

  begin, before = time.monotonic(), compilation.lowerings()
  jobs, seen = [], set()
  for name, lm in lms.items():  # Models sharing a source warm once.
    if id(lm) not in seen:
      seen.add(id(lm))
      jobs += [(name, lm, length) for length in lengths_to_warm(
          lm, examples, max_new_tokens, max_length)]
  ready = 0
  with concurrent.futures.ThreadPoolExecutor(
      max_workers=max(os.cpu_count() or 1, 1),
      thread_name_prefix="lit-gemma-compile") as pool:
    pending = []
    for name, lm, length in jobs:  # Traced here, compiled in the pool.
      try:
        lowered = lm.engine.lower_clicks(length, WIDTH)
      except Exception:  # pylint: disable=broad-except
        logging.exception("lit-gemma: warm-up of %s at %d tokens failed",
                          name, length)
        continue
      pending.append((name, length, [pool.submit(p.compile)
                                     for p in lowered]))
    for n, (name, length, futures) in enumerate(pending, start=1):
      try:
        for future in futures:
          future.result()
      except Exception:  # pylint: disable=broad-except
        logging.exception("lit-gemma: warm-up of %s at %d tokens failed",
                          name, length)
        continue
      ready += 1
      report(f"{name}: salience ready for texts of up to {length} tokens "
             f"({n}/{len(jobs)}, {time.monotonic() - begin:.1f} s)")
  # Tests and benchmarks read this line.
  report(f"done: {ready} buckets in {time.monotonic() - begin:.1f} s "
         f"({compilation.lowerings() - before} programs compiled)")
  return ready
