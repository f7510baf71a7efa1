"""The base of every LIT model that adds data-table columns over a loaded
Gemma: a selectable model (LIT draws Scalar columns only for models the user
can pick), never creatable from the UI, reading extra dataset fields, with
its rows kept in one bounded store so a column is computed once per content.

A subclass names its columns (`output_spec`), the dataset fields it reads
beyond the prompt and target (`READS`) and computes one row (`compute_row`,
and `empty_row` for an example with nothing to compute); `row(example)`
returns it from the store or computes it now. Columns that share work
between rows (the two datapoints of a preference pair) override `row` and
keep the shared parts in `store` themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence

from absl import logging

from lit_nlp.api import model as lit_model
from lit_nlp.api import types as lit_types

from lit_gemma import fields
from lit_gemma.lit import caching
from lit_gemma.models import gate as gate_lib

STORE_BYTES = 16 << 20  # Each column model's kept rows (least recent dropped).
STORE_ENTRIES = 50_000


class ColumnModel(lit_model.BatchedModel):
  """Data-table columns over `lm`: one cached row per example content."""

  READS: tuple[str, ...] = ()  # dataset fields read beyond prompt/target

  def __init__(self, lm, *, batch_size: int = 8, max_length: int = 1024,
               max_entries: int = STORE_ENTRIES):
    self.lm = lm
    self.batch_size = batch_size
    self.max_length = max_length
    self.store = caching.PredictionStore(STORE_BYTES, max_entries)

  @classmethod
  def init_spec(cls):
    return None  # Needs a loaded model: not creatable from the UI.

  def max_minibatch_size(self) -> int:
    return self.batch_size

  def input_spec(self) -> lit_types.Spec:
    read = fields.model_read_spec()  # the datasets' types, or LIT hides us
    return fields.input_spec() | {name: read[name] for name in self.READS}

  def key(self, example: Mapping) -> Hashable | None:
    """What a row depends on; None: the empty row, not stored."""
    return tuple(str(example.get(name) or "") for name in
                 (fields.PROMPT, fields.TARGET, *self.READS))

  def empty_row(self) -> dict:
    """The row of an example there is nothing to compute for."""
    raise NotImplementedError

  def compute_row(self, example: Mapping) -> dict:
    raise NotImplementedError

  def row(self, example: Mapping) -> dict:
    """`example`'s columns, from the store or computed now."""
    key = self.key(example)
    if key is None:
      return self.empty_row()
    found = self.store.get(key)
    if found is None:
      found = self.compute_row(example)
      self.store.put(key, found)
    return dict(found)

  def predict_minibatch(self, inputs: Iterable[dict]) -> list[dict]:
    return [self.row(example) for example in inputs]


def start_worker(model: ColumnModel, examples: Sequence[Mapping], what: str,
                 gate: gate_lib.Gate = gate_lib.GATE,
                 after: threading.Thread | None = None,
                 stop: threading.Event | None = None) -> threading.Thread:
  """Computes every example's row of `model` in the background (started):
  after `after` ends, one example at a time, each a background unit of
  `gate` (so a click waits for one example at most). `what` names the
  columns in the log."""
  stop = stop or threading.Event()

  def run():
    if after is not None:
      after.join()
    begin, done = time.monotonic(), 0
    for example in examples:
      with gate.background(stop) as running:
        if not running:
          return
        try:
          model.row(example)
        except Exception:  # pylint: disable=broad-except
          logging.exception("lit-gemma: %s: an example failed", what)
      done += 1
    logging.info("lit-gemma: %s of %d examples ready (%.1f s)", what, done,
                 time.monotonic() - begin)

  thread = threading.Thread(target=run, name=f"lit-gemma-{what}".replace(
      " ", "-"), daemon=True)
  thread.stop = stop
  thread.start()
  return thread
