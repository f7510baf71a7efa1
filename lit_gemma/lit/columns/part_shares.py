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
at a time, each a background unit behind the UI's requests
(models/gate.py); selecting the model before it is done computes the
missing rows on the spot.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence

import numpy as np
from lit_nlp.api import types as lit_types

from lit_gemma.lit.columns import base
from lit_gemma import errors
from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma.prompts import parts as parts_lib
from lit_gemma.models import gate as gate_lib

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


def _key(item: explain_lib.Item) -> str:
  return json.dumps([item.prompt, item.target,
                     [list(p) for p in item.prompt_parts]])


class PartShareModel(base.ColumnModel):
  """Per-example part shares of salience for the dataset's target."""

  READS = (fields.PROMPT_PARTS,)

  def __init__(self, lm, max_length: int, **kwargs):
    super().__init__(lm, max_length=max_length, **kwargs)

  def description(self) -> str:
    return ("share of salience (grad_l2, dataset target) on the template's "
            "text, its few-shot examples and its {{variables}}")

  def output_spec(self) -> lit_types.Spec:
    return {TEMPLATE: lit_types.Scalar(), EXAMPLES: lit_types.Scalar(),
            INPUT: lit_types.Scalar(), TOP_PART: lit_types.CategoryLabel()}

  def key(self, example: Mapping) -> str | None:
    item = _item(example)
    return None if item is None else _key(item)

  def empty_row(self) -> dict:
    return empty()

  def compute_row(self, example: Mapping) -> dict:
    try:
      exp = explain_lib.explain_many(self.lm, [_item(example)],
                                     methods=[METHOD],
                                     max_length=self.max_length)[0]
      return shares(exp)
    except errors.UserError:  # e.g. a target that merges into the prompt
      return empty()

def start_worker(model: PartShareModel, examples: Sequence[Mapping],
                 gate: gate_lib.Gate = gate_lib.GATE,
                 after: threading.Thread | None = None,
                 stop: threading.Event | None = None) -> threading.Thread:
  """Computes every example's part shares in the background
  (base.start_worker)."""
  return base.start_worker(model, examples, "part shares", gate, after, stop)
