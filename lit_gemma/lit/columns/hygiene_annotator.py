"""Hygiene results as data-table columns, computed once per dataset.

A LIT annotator: LIT runs it once on each dataset as the app starts (and on
a dataset loaded later), never per request. For a tuning set (datapoints
with a `query`) it adds

  duplicate_group      "dup N" shared by queries equal after normalising
                       case, whitespace and punctuation; "" if unique
  near_duplicate       highest cosine (matching.pool of the Gemma's final
                       hidden states) to another, different query; 0
                       without a model (--near_duplicate_columns: one
                       forward pass per query as the app starts)
  eval_overlap         how a query overlaps the evaluation set: "exact",
                       "ngram", "near", comma-joined; "" if it does not
  query_form           question, instruction or statement
  hygiene_flags        the above in words, to filter on

The two datapoints of a preference pair share one query and count once.
The evaluation set is every loaded dataset whose name contains "eval"
(the bundled `tuning_eval`); it is not compared with itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lit_nlp.api import components as lit_components
from lit_nlp.api import types as lit_types

from lit_gemma.tuning import hygiene

from lit_gemma.tuning import matching

QUERY = "query"
PAIR_ID = "pair_id"
DUPLICATE, NEAR, OVERLAP, FORM, FLAGS = (
    "duplicate_group", "near_duplicate", "eval_overlap", "query_form",
    "hygiene_flags")
COLUMNS = (DUPLICATE, NEAR, OVERLAP, FORM, FLAGS)


def eval_datasets(datasets: Mapping[str, Any]) -> list[Any]:
  """The loaded datasets that serve as the evaluation set."""
  return [ds for name, ds in datasets.items() if "eval" in name.lower()]


def _texts(examples: Sequence[Mapping]) -> list[str]:
  return [str(ex.get(QUERY) or "") for ex in examples]


class HygieneAnnotator(lit_components.Annotator):
  """Adds the hygiene columns to tuning-set datapoints."""

  def __init__(self, eval_sets: Sequence[Any] = (), lm=None,
               threshold: float = hygiene.NEAR_DUPLICATE_THRESHOLD):
    super().__init__("hygiene", None)
    self.eval_sets = list(eval_sets)
    self.lm = lm
    self.threshold = threshold
    self._vectors: dict[str, np.ndarray] = {}

  def _vectors_of(self, texts: Sequence[str]) -> np.ndarray:
    missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
    if missing:
      for text, row in zip(missing, matching.query_vectors(self.lm, missing)):
        self._vectors[text] = row
    return np.stack([self._vectors[t] for t in texts])

  def annotate(self, inputs: list[dict[str, Any]], dataset,
               dataset_spec_to_annotate: lit_types.Spec | None = None):
    if QUERY not in dataset.spec() or not inputs:
      return
    units: dict[Any, int] = {}  # a pair's two datapoints are one unit
    for i, ex in enumerate(inputs):
      units.setdefault(ex.get(PAIR_ID) or ("row", i), i)
    firsts = list(units.values())
    unit_of = [units[ex.get(PAIR_ID) or ("row", i)]
               for i, ex in enumerate(inputs)]
    texts = _texts(inputs)
    rows = {i: {DUPLICATE: "", NEAR: 0.0, OVERLAP: "",
                FORM: hygiene.query_form(texts[i])} for i in firsts}

    keys = [matching.normalise(texts[i]) for i in firsts]
    groups: dict[str, list[int]] = {}
    for i, key in zip(firsts, keys):
      groups.setdefault(key, []).append(i)
    number = 0
    for members in groups.values():
      if len(members) > 1:
        number += 1
        for i in members:
          rows[i][DUPLICATE] = f"dup {number}"

    vectors = None
    if self.lm is not None and len(firsts) > 1:
      vectors = self._vectors_of([texts[i] for i in firsts])
      sims = vectors @ vectors.T
      same = np.equal.outer(np.array(keys, object), np.array(keys, object))
      sims[same] = -1.0  # exact duplicates (and itself) have their column
      for k, i in enumerate(firsts):
        rows[i][NEAR] = round(float(max(sims[k].max(), 0.0)), 4)

    evals = [ex for ds in self.eval_sets if ds is not dataset
             and getattr(ds, "path", None) != getattr(dataset, "path", 0)
             for ex in ds.examples]
    eval_texts = [t for t in _texts(evals) if t] or [
        hygiene._user_text(str(ex.get("prompt", "")))  # pylint: disable=protected-access
        for ex in evals]
    if eval_texts:
      eval_keys = {matching.normalise(t) for t in eval_texts}
      eval_vectors = (self._vectors_of(eval_texts) if vectors is not None
                      else None)
      for k, i in enumerate(firsts):
        found = []
        if keys[k] in eval_keys:
          found.append("exact")
        if any(matching.shared_ngram(texts[i], e) for e in eval_texts):
          found.append("ngram")
        if eval_vectors is not None and float(
            (eval_vectors @ vectors[k]).max()) >= self.threshold:
          found.append("near")
        rows[i][OVERLAP] = ",".join(found)

    for i, ex in enumerate(inputs):
      row = dict(rows[unit_of[i]])
      flags = []
      if row[DUPLICATE]:
        flags.append("duplicate")
      if row[NEAR] >= self.threshold:
        flags.append("near duplicate")
      if row[OVERLAP]:
        flags.append("eval overlap")
      row[FLAGS] = ", ".join(flags)
      ex.update(row)
    if dataset_spec_to_annotate is not None:
      dataset_spec_to_annotate.update({
          DUPLICATE: lit_types.CategoryLabel(required=False),
          NEAR: lit_types.Scalar(required=False),
          OVERLAP: lit_types.CategoryLabel(required=False),
          FORM: lit_types.CategoryLabel(required=False),
          FLAGS: lit_types.CategoryLabel(required=False),
      })
