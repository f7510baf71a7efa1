"""Warm-up: compile the salience programs a first click will need, in the
background, so that the first click on a bundled example is fast.

Two phases: the two most common buckets with the narrowest target first
(the server reports ready, /health 200, once they are done: what a first
click most likely needs, and as long a start as before), then every other
bucket the datasets use, at target widths 8 and 32, while the UI is already
usable; each unit yields to requests (`warm_gate`).

Owned by the model layer: it knows the loaded models and the texts they will
be asked about (the datasets), and it goes through `GemmaLM.salience_ids`,
the same path (and BOS rule) as every click.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from absl import logging

from lit_gemma.models import gate
from lit_gemma.salience import compilation

# Warm every bucket the datasets use up to this many tokens (most common
# first); longer texts compile on their first click.
WARM_UP_MAX_TOKENS = 1024
# Buckets warmed before the server reports ready (the most common ones).
FIRST_PHASE_BUCKETS = 2
# Target widths (tokens) warmed: buckets 8 then 32. The first phase warms
# only the first.
WIDTHS = (1, 20)


class WarmUpThread(threading.Thread):
  """The warm-up's thread; `first_ready` is set when the first phase is
  done (or failed), which is when the server reports ready."""

  def __init__(self, target):
    super().__init__(target=target, name="lit-gemma-warm-up", daemon=True)
    self.first_ready = threading.Event()


def lengths_to_warm(lm, examples: Iterable[Mapping[str, Any]],
                    max_new_tokens: int, max_length: int) -> list[int]:
  """Token counts a first click is likely to use: prompt + target, or
  prompt + a full response when there is no target, most common bucket
  first."""
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


def warm_up(name: str, lm, lengths: Sequence[int],
            widths: Sequence[int] = WIDTHS,
            skip: frozenset[tuple[int, int]] = frozenset()) -> int:
  """Compiles (or loads from JAX's disk cache) the salience programs a
  first click on a text of each length uses: a fresh text, then another
  span of the same text; returns the (length, target width) buckets made
  ready. Logs and swallows errors: it is only a speed-up."""
  ready = 0
  try:
    filler = lm.encode("a")[-1]
    for width in widths:  # Target buckets 8 then 32, every length first.
      for length in lengths:
        if width >= length - 2 or (length, width) in skip:
          continue
        start = time.monotonic()
        ids = [lm.bos_id] + [filler] * (length - 1)
        for end in (length - 1, length - 2):  # Shown tokens: no BOS.
          mask = [0.0] * (length - 1)
          mask[end - width:end] = [1.0] * width
          with gate.background():  # Yields to requests between units.
            lm.salience_ids([ids], [mask])
        logging.info("lit-gemma: warm-up: %s salience ready for %d-token "
                     "texts, %d-token targets (%.1f s)", name, length, width,
                     time.monotonic() - start)
        ready += 1
  except Exception:  # pylint: disable=broad-except
    logging.exception("lit-gemma: warm-up of %s failed (requests still "
                      "work)", name)
  return ready


def start(lms: Mapping[str, Any], examples: Sequence[Mapping[str, Any]],
          max_new_tokens: int, max_length: int) -> WarmUpThread:
  """Warms every distinct model on a background thread (started)."""
  jobs, seen = [], set()
  for name, lm in lms.items():  # Models sharing a source warm once.
    if id(lm) not in seen:
      seen.add(id(lm))
      jobs.append((name, lm, lengths_to_warm(lm, examples, max_new_tokens,
                                             max_length)))

  def warm_up_all():
    begin = time.monotonic()
    first = {(length, WIDTHS[0]) for _, _, lengths in jobs
             for length in lengths[:FIRST_PHASE_BUCKETS]}
    ready = 0
    try:
      for name, lm, lengths in jobs:
        ready += warm_up(name, lm, lengths[:FIRST_PHASE_BUCKETS], WIDTHS[:1])
      logging.info("lit-gemma: warm-up: ready (%.1f s); the other buckets "
                   "follow", time.monotonic() - begin)
    finally:
      thread.first_ready.set()
    for name, lm, lengths in jobs:
      ready += warm_up(name, lm, lengths, WIDTHS, skip=frozenset(first))
    # Tests and benchmarks wait for this line.
    logging.info("lit-gemma: warm-up done: %d buckets in %.1f s (%d programs "
                 "compiled so far)", ready, time.monotonic() - begin,
                 compilation.lowerings())

  thread = WarmUpThread(warm_up_all)
  thread.start()
  return thread
