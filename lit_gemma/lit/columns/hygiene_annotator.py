"""Hygiene results as data-table columns, and the data map's vectors,
computed once per dataset.

A LIT annotator: LIT runs it once on each dataset as the app starts (and on
datapoints added later), never per request. For a tuning set (datapoints
with a `query`) it adds

  duplicate_group   "dup N" shared by queries equal after normalising case,
                    whitespace and punctuation; "" if unique
  near_duplicate    highest cosine of the query's vector (tuning/vectors.py)
                    to another, different query; 0 without a model
  eval_overlap      how a query overlaps the evaluation items: "exact",
                    "ngram", "near" (a paraphrase), comma-joined; "" if not
  query_form        question, instruction or statement
  topic             "topic N: three, typical, words" (tuning/topics.py);
                    "" without a model
  hygiene_flags     the above in words, to filter on
  query_vector      (with a model) the query vector itself, as LIT
                    Embeddings: the data map layout's projector draws these,
                    the same vectors the topics and near duplicates use

The model parts need `--near_duplicate_columns` (one batched forward pass
per query as the app starts). Near duplicates use the cosine calibrated for
the model (tuning/paraphrases.py). The two datapoints of a preference pair
share one query and count once. The evaluation items are the datasets named
by --eval_datasets and every datapoint marked `split: eval`; an evaluation
item is not compared with itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lit_nlp.api import components as lit_components
from lit_nlp.api import types as lit_types

from lit_gemma import fields
from lit_gemma.tuning import contamination
from lit_gemma.tuning import diversity
from lit_gemma.tuning import matching
from lit_gemma.tuning import paraphrases
from lit_gemma.tuning import queries as queries_lib
from lit_gemma.tuning import topics as topics_lib
from lit_gemma.tuning import vectors as vectors_lib

QUERY = "query"
PAIR_ID = "pair_id"
DUPLICATE, NEAR, OVERLAP, FORM, TOPIC, FLAGS, VECTOR = (
    "duplicate_group", "near_duplicate", "eval_overlap", "query_form",
    "topic", "hygiene_flags", "query_vector")
COLUMNS = (DUPLICATE, NEAR, OVERLAP, FORM, TOPIC, FLAGS)
DIGITS = 5  # of each query_vector number sent to the browser


def _is_eval(example: Mapping) -> bool:
  return str(example.get(fields.SPLIT) or "") == fields.EVAL


def _text(example: Mapping) -> str:
  query = str(example.get(QUERY) or "")
  return query or queries_lib.user_text(str(example.get(fields.PROMPT, "")))


class HygieneAnnotator(lit_components.Annotator):
  """Adds the hygiene columns (and the map's vectors) to tuning sets."""

  def __init__(self, eval_sets: Sequence[Any] = (), lm=None,
               threshold: float | None = None,
               all_datasets: Sequence[Any] = ()):
    """eval_sets: the evaluation datasets; lm: a GemmaLM (None: text
    columns only); threshold: a cosine instead of the calibrated one;
    all_datasets: every loaded dataset (their `split: eval` rows)."""
    super().__init__("hygiene", None)
    self.eval_sets = list(eval_sets)
    self.all_datasets = list(all_datasets)
    self.lm = lm
    self._threshold = threshold

  @property
  def threshold(self) -> float | None:
    if self._threshold is None and self.lm is not None:
      self._threshold = paraphrases.threshold(self.lm).threshold
    return self._threshold

  def _evaluation(self, dataset) -> list[contamination.Text]:
    found, seen = [], set()
    for ds in self.eval_sets + self.all_datasets:
      own = ds is dataset or getattr(ds, "path", 0) == getattr(
          dataset, "path", 1)
      for ex in ds.examples:
        is_item = (ds in self.eval_sets and not own) or _is_eval(ex)
        text = _text(ex)
        if is_item and text and (id(ds), text) not in seen:
          seen.add((id(ds), text))
          found.append(contamination.Text(text, "eval"))
    return found

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
    texts = [_text(ex) for ex in inputs]
    rows = {i: {DUPLICATE: "", NEAR: 0.0, OVERLAP: "", TOPIC: "",
                FORM: diversity.query_form(texts[i])} for i in firsts}
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
    unit = None
    if self.lm is not None:
      unit = vectors_lib.query_vectors(self.lm, [texts[i] for i in firsts])
      self._near_and_topics(unit, keys, firsts, texts, rows, dataset)
    tuning = [k for k, i in enumerate(firsts) if not _is_eval(inputs[i])]
    evals = self._evaluation(dataset)
    if evals and tuning:
      eval_unit = (vectors_lib.query_vectors(self.lm, [e.text for e in evals])
                   if unit is not None else None)
      found = contamination.find(
          [contamination.Text(texts[firsts[k]], str(n))
           for n, k in enumerate(tuning)], evals,
          None if unit is None else unit[tuning], eval_unit, self.threshold)
      for match in found:
        i = firsts[tuning[int(match.query.where)]]
        have = rows[i][OVERLAP].split(",") if rows[i][OVERLAP] else []
        rows[i][OVERLAP] = ",".join(dict.fromkeys(have + list(
            match.measures)))
    for i, ex in enumerate(inputs):
      row = dict(rows[unit_of[i]])
      flags = [name for name, on in (
          ("duplicate", row[DUPLICATE]),
          ("near duplicate", self.lm is not None
           and row[NEAR] >= self.threshold),
          ("eval overlap", row[OVERLAP]),
          ("evaluation row", _is_eval(ex))) if on]
      row[FLAGS] = ", ".join(flags)
      ex.update(row)
    if dataset_spec_to_annotate is not None:
      dataset_spec_to_annotate.update({
          DUPLICATE: lit_types.CategoryLabel(required=False),
          NEAR: lit_types.Scalar(required=False),
          OVERLAP: lit_types.CategoryLabel(required=False),
          FORM: lit_types.CategoryLabel(required=False),
          TOPIC: lit_types.CategoryLabel(required=False),
          FLAGS: lit_types.CategoryLabel(required=False),
      })
      if unit is not None:
        dataset_spec_to_annotate[VECTOR] = lit_types.Embeddings(
            required=False)

  def _near_and_topics(self, unit, keys, firsts, texts, rows,
                       dataset) -> None:
    """Near-duplicate cosines, topics and vectors of the units."""
    if len(firsts) > 1:
      sims = unit @ unit.T
      same = np.equal.outer(np.array(keys, object), np.array(keys, object))
      sims[same] = -1.0  # exact duplicates (and itself) have their column
      for k, i in enumerate(firsts):
        rows[i][NEAR] = round(float(max(sims[k].max(), 0.0)), 4)
    known = [ex for ex in dataset.examples if ex.get(TOPIC)
             and ex.get(VECTOR) is not None]
    if known and len(firsts) < len(dataset.examples):
      # Datapoints added to an annotated set: the topic of the nearest one.
      index, _ = matching.nearest(unit, np.array([ex[VECTOR] for ex in known],
                                                 np.float32))
      labels = [known[j][TOPIC] for j in index]
    else:
      k = topics_lib.topic_count(len(firsts))
      ids = topics_lib.kmeans(topics_lib.centred(unit), k)
      words = topics_lib.names([texts[i] for i in firsts], ids)
      labels = [f"topic {c + 1}: {', '.join(words[c])}" for c in ids]
    for k, i in enumerate(firsts):
      rows[i][TOPIC] = labels[k]
      rows[i][VECTOR] = [round(float(x), DIGITS) for x in unit[k]]


def eval_datasets(datasets: Mapping[str, Any], names: Sequence[str] | None
                  ) -> list[Any]:
  """The datasets named as evaluation sets (None: the bundled evaluation
  set, `tuning_eval`, when it is loaded)."""
  if names is None:
    names = [n for n in datasets if n == "tuning_eval"]
  return [datasets[n] for n in names if n in datasets]
