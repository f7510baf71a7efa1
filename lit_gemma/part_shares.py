"""Opt-in data-table columns: each template part's share of salience.

For a datapoint rendered from a prompt template (it has `prompt_parts`),
the share of the prompt's grad_l2 salience mass for the dataset's target
that falls on the template's own text (instructions, chat markup), on the
few-shot examples and on the `{{variables}}` (the user's input), so that a
user can sort for "examples where the model ignored the instruction".
LIT draws Scalar columns only for models the user can select, so this is
a model of its own, `NAME_parts` (no `_` prefix), served with
`--part_columns`.

A background worker computes the shares of every loaded example once, one
at a time, after the warm-up and only while no UI request runs
(`priority.Gate`); selecting the model before it is done computes the
missing rows on the spot.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from absl import logging
from lit_nlp.api import model as lit_model
from lit_nlp.api import types as lit_types

from lit_gemma import bounded_cache
from lit_gemma import errors
from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma import parts as parts_lib
from lit_gemma import priority

METHOD = "grad_l2"  # non-negative, so shares add up to 1
TEMPLATE, EXAMPLES, INPUT = ("part_share_template", "part_share_examples",
                             "part_share_input")
TOP_PART = "top_part"
OUTPUTS = (TEMPLATE, EXAMPLES, INPUT, TOP_PART)


def parts_name(name: str) -> str:
  """The LIT name of model group `name`'s part-share model (selectable)."""
  return f"{name}_parts"


def _column(label: str) -> str:
  if label == parts_lib.TEMPLATE:
    return TEMPLATE
  if label.startswith("{{"):
    return INPUT
  return EXAMPLES


def empty() -> dict:
  """The row of a datapoint without parts or target: all zeros, no top
  part (sorts below every measured row)."""
  return {TEMPLATE: 0.0, EXAMPLES: 0.0, INPUT: 0.0, TOP_PART: ""}


def shares(exp: explain_lib.Explanation) -> dict:
  """The part-share columns of one explanation of the whole target."""
  mass: dict[str, float] = {}
  for seg in exp.segments("part", METHOD):
    if seg.label != parts_lib.TARGET:
      mass[seg.label] = mass.get(seg.label, 0.0) + float(seg.score)
  total = sum(mass.values())
  out = empty()
  if total <= 0 or not np.isfinite(total):
    return out
  for label, value in mass.items():
    out[_column(label)] += value / total
  out[TOP_PART] = max(mass, key=mass.get)
  return out


def _item(example: Mapping) -> explain_lib.Item | None:
  prompt = example.get(fields.PROMPT) or ""
  target = example.get(fields.TARGET) or ""
  raw = example.get(fields.PROMPT_PARTS)
  if not (prompt and target and raw):
    return None
  try:
    found = parts_lib.parse(raw)
    parts_lib.check_cover(found, prompt)
  except errors.UserError:
    return None
  return explain_lib.Item(prompt, target, prompt_parts=found)


def _key(item: explain_lib.Item | None) -> str:
  if item is None:
    return ""
  return json.dumps([item.prompt, item.target,
                     [list(p) for p in item.prompt_parts]])


class PartShareModel(lit_model.Model):
  """Per-example part shares of salience for the dataset's target."""

  def __init__(self, lm, max_length: int, max_entries: int = 50_000):
    self.lm = lm
    self.max_length = max_length
    self.store = bounded_cache.PredictionStore(16 << 20, max_entries)

  @classmethod
  def init_spec(cls):
    return None  # Needs a loaded model: not creatable from the UI.

  def description(self) -> str:
    return ("share of salience (grad_l2, dataset target) on the template's "
            "text, its few-shot examples and its {{variables}}")

  def input_spec(self) -> lit_types.Spec:
    read = fields.model_read_spec()  # the datasets' type, or LIT hides us
    return fields.input_spec() | {
        fields.PROMPT_PARTS: read[fields.PROMPT_PARTS]}

  def output_spec(self) -> lit_types.Spec:
    return {TEMPLATE: lit_types.Scalar(), EXAMPLES: lit_types.Scalar(),
            INPUT: lit_types.Scalar(), TOP_PART: lit_types.CategoryLabel()}

  def compute(self, example: Mapping) -> dict:
    """The columns of `example`, from the store or computed now."""
    item = _item(example)
    if item is None:
      return empty()
    key = _key(item)
    found = self.store.get(key)
    if found is None:
      try:
        exp = explain_lib.explain_many(self.lm, [item], methods=[METHOD],
                                       max_length=self.max_length)[0]
        found = shares(exp)
      except errors.UserError:  # e.g. a target that merges into the prompt
        found = empty()
      self.store.put(key, found)
    return dict(found)

  def predict(self, inputs: Iterable[dict], **unused) -> list[dict]:
    return [self.compute(ex) for ex in inputs]


def start_worker(model: PartShareModel, examples: Sequence[Mapping],
                 gate: priority.Gate,
                 after: threading.Thread | None = None,
                 stop: threading.Event | None = None) -> threading.Thread:
  """Computes every example's shares in the background (started): after
  `after` (the warm-up) ends, one example at a time, only while `gate` is
  idle."""
  stop = stop or threading.Event()

  def run():
    if after is not None:
      after.join()
    begin, done = time.monotonic(), 0
    for example in examples:
      gate.wait_idle(stop)
      if stop.is_set():
        return
      try:
        model.compute(example)
      except Exception:  # pylint: disable=broad-except
        logging.exception("lit-gemma: part shares: an example failed")
      done += 1
    logging.info("lit-gemma: part shares of %d examples ready (%.1f s)",
                 done, time.monotonic() - begin)

  thread = threading.Thread(target=run, name="lit-gemma-part-shares",
                            daemon=True)
  thread.stop = stop
  thread.start()
  return thread
