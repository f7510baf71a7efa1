"""Contamination: evaluation items that reached the data meant to shape a
model or a template (tuning rows, few-shot examples, dev rows). One check for
every caller: the hygiene report lists the matches, `tune` and `evaluate`
refuse a contaminated input in one line (unless told to go on).

Texts are compared without chat markup of any format (matching.py). A pair
matches by any of:
  exact   equal after normalising case, spacing and punctuation
  ngram   a long shared word n-gram (n scaled to the query's length)
  near    a paraphrase: the query vectors' cosine (vectors.py) at or above
          the threshold calibrated for the loaded model (paraphrases.py),
          which catches rewordings that share no long n-gram (LMSYS's
          decontaminator found n-gram checks miss them); only with a model
          or vectors
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from lit_gemma import errors
from lit_gemma.tuning import matching
from lit_gemma.tuning import paraphrases
from lit_gemma.tuning import vectors as vectors_lib
from lit_gemma.tuning.matching import normalise, similar_pairs


@dataclasses.dataclass(frozen=True)
class Text:
  """One text compared, and where it came from ("file:LINE", ...)."""

  text: str
  where: str

  def as_dict(self) -> dict[str, str]:
    return {"where": self.where, "text": self.text}


@dataclasses.dataclass(frozen=True)
class Match:
  """A text of the checked data found in the evaluation data."""

  query: Any  # anything with .text, .where and .as_dict() (Text, Query)
  eval: Any
  measures: tuple[str, ...]
  ngram: str | None = None
  similarity: float | None = None

  def to_dict(self) -> dict[str, Any]:
    out: dict[str, Any] = {"query": self.query.as_dict(),
                           "eval": self.eval.as_dict(),
                           "measures": list(self.measures)}
    if self.ngram is not None:
      out["ngram"] = self.ngram
    if self.similarity is not None:
      out["similarity"] = self.similarity
    return out

  def summary(self) -> str:
    """One line: where, what, and how it matched."""
    how = "+".join(self.measures)
    return (f"{self.query.where} {self.query.text[:60]!r} matches the "
            f"evaluation item at {self.eval.where} ({how})")


class ContaminationError(errors.UserError):
  """Input whose evaluation items leaked into what shapes the model."""


def _ngram_index(evals: Sequence) -> dict[int, dict[tuple, list[int]]]:
  """{n: {n-gram: evaluation indices}} for every n a query may use."""
  words = [matching.words(e.text) for e in evals]
  index: dict[int, dict[tuple, list[int]]] = {}
  for n in range(1, matching.NGRAM_MAX + 1):
    grams: dict[tuple, list[int]] = {}
    for j, w in enumerate(words):
      for gram in {tuple(w[k:k + n]) for k in range(len(w) - n + 1)}:
        grams.setdefault(gram, []).append(j)
    index[n] = grams
  return index


def find(queries: Sequence, evals: Sequence,
         vectors: np.ndarray | None = None,
         eval_vectors: np.ndarray | None = None,
         threshold: float | None = None, *, lm=None) -> list[Match]:
  """Every (query, evaluation item) pair that matches by any measure, in
  query order.

  Paraphrases ("near") need query vectors: `lm` (a GemmaLM) computes them
  with its calibrated threshold (paraphrases.threshold), or pass unit rows
  `vectors`/`eval_vectors` (vectors.query_vectors) and a `threshold`."""
  found: dict[tuple[int, int], dict[str, Any]] = {}

  def entry(i, j):
    return found.setdefault((i, j), {"measures": []})

  eval_keys: dict[str, list[int]] = {}
  for j, e in enumerate(evals):
    eval_keys.setdefault(normalise(e.text), []).append(j)
  grams = _ngram_index(evals) if evals else {}
  for i, q in enumerate(queries):
    for j in eval_keys.get(normalise(q.text), []):
      entry(i, j)["measures"].append("exact")
    mine = matching.words(q.text)
    if not mine:
      continue
    n = matching.ngram_size(len(mine))
    for k in range(len(mine) - n + 1):
      gram = tuple(mine[k:k + n])
      for j in grams.get(n, {}).get(gram, ()):
        item = entry(i, j)
        if "ngram" not in item["measures"]:
          item["measures"].append("ngram")
          item["ngram"] = " ".join(gram)
  if lm is not None and vectors is None and len(queries) and len(evals):
    both = vectors_lib.query_vectors(
        lm, [q.text for q in queries] + [e.text for e in evals])
    vectors, eval_vectors = both[:len(queries)], both[len(queries):]
    if threshold is None:
      threshold = paraphrases.threshold(lm).threshold
  if vectors is not None and eval_vectors is not None and len(evals):
    if threshold is None:
      raise ValueError("near matches need a threshold")
    for i, j, s in similar_pairs(vectors, eval_vectors, threshold):
      item = entry(i, j)
      item["measures"].append("near")
      item["similarity"] = s
  return [Match(queries[i], evals[j], tuple(v["measures"]), v.get("ngram"),
                v.get("similarity")) for (i, j), v in sorted(found.items())]


def refuse(matches: Sequence[Match], what: str,
           how_to_go_on: str = "") -> None:
  """Raises ContaminationError naming the first match and the count."""
  if not matches:
    return
  more = f" (and {len(matches) - 1} more)" if len(matches) > 1 else ""
  hint = f"; {how_to_go_on}" if how_to_go_on else ""
  raise ContaminationError(
      f"{what} contains evaluation items: {matches[0].summary()}{more}"
      f"{hint}")
