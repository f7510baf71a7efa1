"""The tuning-data review: what the guidance asks of tuning data, measured.

Tuning results depend mostly on the data: every policy covered for every use
case, varied queries, no duplicates, nothing from the evaluation set, labels
that say what the responses do. `build()` measures these on the queries (not
the prompts: a template would make every prompt look alike) and returns one
plain dict for cli/hygiene_command.py, report.py, cleaning.py and the
data-table columns:

  duplicates     exact (normalised text) and near (query vectors at or
                 above the cosine calibrated for the model, for review; the
                 groups the cleaned copy drops use the strict cosine:
                 paraphrases.py)
  evaluation     the evaluation set named by --eval_set, the review file or
                 the set's own `split: eval` rows; exact, n-gram and
                 paraphrase matches, each with its pair (contamination.py)
  coverage       rows per policy x use case against the review file's
                 declaration (coverage.py, review.py)
  diversity      topics (topics.py), lengths, forms and tone (diversity.py),
                 identity terms (identity.py), and where the set is narrow
  labels         suspect preference pairs (preferences.py) and SFT rows
                 whose label contradicts the response (responses.py)

The text parts need no model; vectors and likelihoods take a `GemmaLM`.
Nothing here imports LIT, Keras or JAX (the model brings its own).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from typing import Any

from lit_gemma.tuning import contamination
from lit_gemma.tuning import coverage as coverage_lib
from lit_gemma.tuning import diversity as diversity_lib
from lit_gemma.tuning import identity as identity_lib
from lit_gemma.tuning import paraphrases
from lit_gemma.tuning import preferences
from lit_gemma.tuning import queries as queries_lib
from lit_gemma.tuning import responses
from lit_gemma.tuning import review as review_lib
from lit_gemma.tuning import topics as topics_lib
from lit_gemma.tuning import vectors as vectors_lib
from lit_gemma.tuning.matching import normalise, similar_pairs

# (stage, done, total): "query vectors", "likelihoods".
Progress = Callable[[str, int, int], None]
# Most near-duplicate pairs listed (highest first; the count is all of them).
MAX_PAIRS = 1000
read_queries = queries_lib.read_queries
query_form = diversity_lib.query_form


def exact_duplicates(queries: Sequence) -> list[list[int]]:
  """Groups (2+ indices, first seen first) of equal normalised queries."""
  groups: dict[str, list[int]] = {}
  for i, query in enumerate(queries):
    groups.setdefault(normalise(query.text), []).append(i)
  return [g for g in groups.values() if len(g) > 1]


def same_responses(queries: Sequence) -> list[int] | None:
  """Preference rows whose two responses normalise equal; None when no
  query comes from a preference row."""
  if not any(q.responses for q in queries):
    return None
  return [i for i, q in enumerate(queries) if len(q.responses) == 2
          and normalise(q.responses[0]) == normalise(q.responses[1])]


def near_groups(pairs: Sequence[tuple[int, int, float]], count: int
                ) -> list[list[int]]:
  """Connected groups (2+ indices, sorted) of near-duplicate pairs."""
  parent = list(range(count))

  def root(i):
    while parent[i] != i:
      parent[i] = parent[parent[i]]
      i = parent[i]
    return i

  for i, j, _ in pairs:
    parent[root(i)] = root(j)
  groups: dict[int, list[int]] = {}
  for i in sorted({k for p in pairs for k in p[:2]}):
    groups.setdefault(root(i), []).append(i)
  return sorted((g for g in groups.values() if len(g) > 1),
                key=lambda g: g[0])


def _stage(progress: Progress | None, stage: str):
  return None if progress is None else (
      lambda done, total: progress(stage, done, total))


def _evaluation(queries, eval_paths) -> tuple[list, list, list]:
  """(tuning rows, evaluation items, evaluation rows of the set itself)."""
  own = [q for q in queries if q.split == "eval"]
  tuning = [q for q in queries if q.split != "eval"]
  evals = [e for path in eval_paths for e in read_queries(path)]
  return tuning, evals + own, own


def build(
    dataset: str | os.PathLike[str],
    eval_set: str | os.PathLike[str] | Sequence | None = None,
    lm=None,
    threshold: float | None = None,
    progress: Progress | None = None,
    review: str | os.PathLike[str] | review_lib.Review | None = None,
) -> dict[str, Any]:
  """The whole review as a JSON-able dict.

  Args:
    dataset: a tuning set or prompt file.
    eval_set: evaluation set file(s) in any dataset format, besides the
      review file's and the set's own `split: eval` rows.
    lm: a GemmaLM for vectors and likelihoods; None: text checks only.
    threshold: a cosine to use instead of the calibrated one.
    progress: called as (stage, done, total) while the model works.
    review: a review file (review.py) or a parsed Review.
  """
  if review is not None and not isinstance(review, review_lib.Review):
    review = review_lib.load(review)
  review = review or review_lib.Review()
  paths = ([] if eval_set is None else [eval_set] if isinstance(
      eval_set, (str, os.PathLike)) else list(eval_set))
  paths = [os.fspath(p) for p in paths] + list(review.eval_sets)
  queries, evals, own = _evaluation(read_queries(dataset), paths)
  report: dict[str, Any] = {
      "dataset": os.fspath(dataset), "queries": len(queries),
      "eval_set": ", ".join(paths + (["split: eval rows"] if own else []))
      or None,
      "eval_queries": len(evals), "eval_rows": [q.where for q in own],
      "review": review.to_dict() if review.path else None,
      "model": None if lm is None else (
          lm.source.spec if getattr(lm, "source", None) else "in memory"),
  }
  groups = exact_duplicates(queries)
  report["exact_duplicates"] = [[queries[i].as_dict() for i in g]
                                for g in groups]
  same_group = {frozenset(p) for g in groups
                for p in itertools.combinations(g, 2)}
  unit = eval_unit = None
  calibrated = strict = None
  if lm is not None:
    both = vectors_lib.query_vectors(
        lm, [q.text for q in queries + evals], _stage(progress,
                                                      "query vectors"))
    unit, eval_unit = both[:len(queries)], both[len(queries):]
    calibrated = paraphrases.threshold(lm)
    from_flag = threshold is not None
    threshold = calibrated.threshold if threshold is None else threshold
    strict = max(threshold, calibrated.strict) if not from_flag else threshold
    pairs = [p for p in similar_pairs(unit, None, threshold)
             if frozenset(p[:2]) not in same_group]
    report["near_duplicate_count"] = len(pairs)
    report["near_duplicates"] = [
        {"a": queries[i].as_dict(), "b": queries[j].as_dict(),
         "similarity": s} for i, j, s in pairs[:MAX_PAIRS]]
    report["near_groups"] = [
        {"rows": [queries[i].as_dict() for i in g]}
        for g in near_groups([p for p in pairs if p[2] >= strict],
                             len(queries))]
  else:
    report["near_duplicates"] = report["near_groups"] = None
  report["threshold"] = threshold if lm is not None else None
  report["strict_threshold"] = strict
  report["calibration"] = {
      "paraphrase": None if calibrated is None else calibrated.to_dict(),
      "threshold_from": None if lm is None else (
          "flag" if from_flag else "calibrated")}
  report["eval_overlap"] = [
      m.to_dict() for m in contamination.find(
          queries, evals, unit, eval_unit if len(evals) else None,
          threshold)]
  same = same_responses(queries)
  report["same_responses"] = (None if same is None else
                              [queries[i].as_dict() for i in same])
  report["coverage"] = coverage_lib.coverage(queries, review)
  report["topics"] = (None if unit is None or not len(queries) else
                      topics_lib.topics(queries, unit))
  report["identity"] = identity_lib.identity_terms(queries)
  report["diversity"] = diversity_lib.diversity(
      queries, report["topics"], report["identity"])
  report["labels"] = {
      "preference": preferences.check(queries, lm,
                                      _stage(progress, "likelihoods")),
      "sft": responses.check(queries, lm, _stage(progress, "likelihoods")),
  }
  return report
