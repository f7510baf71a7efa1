"""Hygiene checks for tuning data: duplicates, evaluation overlap, coverage.

Tuning results depend mostly on the data: every policy and use case covered,
varied queries, no duplicates, nothing copied from the evaluation set. This
module measures those on queries (not prompts: a template would make every
prompt look alike):

  exact duplicates  equal after normalising case, whitespace, punctuation
  near duplicates   cosine similarity of the loaded Gemma's final hidden
                    states, mean-pooled over the query's tokens without BOS
                    (raw embedding rows would be a bag of words)
  eval overlap      exact, near (as above) and long shared word n-grams, with
                    n scaled to the query's length so short queries count
                    (tuning/contamination.py; texts compared as
                    tuning/matching.py says)
  coverage          counts per policy x use_case with the empty cells, and
                    the spread of query lengths and forms
  same responses    preference rows whose two responses are equal after
                    normalising (the pair teaches no preference)

The text parts need no model; near duplicates take a `GemmaLM`. Nothing here
imports LIT or Keras: `build()` returns a plain dict for cli/hygiene_command.py and
for data-table columns.
"""

import dataclasses
import itertools
import os
import re
import statistics
from collections.abc import Callable, Sequence
from typing import Any


from lit_gemma.prompts import template_files
from lit_gemma.prompts import templates
from lit_gemma.tuning import contamination
from lit_gemma.tuning import sets
from lit_gemma.tuning.matching import normalise, query_vectors, similar_pairs
from lit_gemma.tuning.matching import words
from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import read_csv
from lit_gemma.prompts.files import read_text
from lit_gemma.prompts.files import read_txt

# Chosen on lit_gemma/bundled_sets/ planted cases, confirmed on
# tests/data/hygiene/ (see bundled_sets/tuning_manifest.json for the measured similarities).
NEAR_DUPLICATE_THRESHOLD = 0.927
UNSET = "(none)"  # A missing policy or use case in coverage tables.

_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are am was were do does "
    "did can could should would will shall may might must have has had "
    "isn't aren't don't doesn't can't won't".split())
_IMPERATIVES = frozenset(
    "write give tell explain describe list make help find generate create "
    "draft show translate compose suggest provide name compare rewrite "
    "summarise summarize please let build design plan outline teach define "
    "recommend calculate convert fix check correct edit imagine pretend "
    "act continue complete answer send post find".split())


@dataclasses.dataclass(frozen=True)
class Query:
  """One query of a data file, with where it came from."""

  text: str
  where: str  # "file:LINE" or "file (template 'x')".
  policy: str = ""
  use_case: str = ""
  responses: tuple[str, ...] = ()  # A preference row's two responses.

  def as_dict(self) -> dict[str, str]:
    return {"where": self.where, "text": self.text}


# ------------------------------------------------------------------ reading


def _user_text(prompt: str) -> str:
  """A chat prompt's user turn; other prompts as they are."""
  start, end = templates.USER_TURN_START, templates.TURN_END
  if prompt.startswith(start) and end in prompt:
    return prompt[len(start):prompt.index(end)]
  return prompt


def read_queries(path: str | os.PathLike[str]) -> list[Query]:
  """The queries of a tuning set, or the prompts of any prompt file.

  Tuning sets give one query a row (a preference row is one query); prompt
  files (JSONL, CSV, text, templates) give their prompts, with Gemma chat
  turns taken off so they compare with queries.
  """
  path = os.fspath(path)
  ext = os.path.splitext(path)[1].lower()
  if ext in (".json", ".yaml", ".yml"):
    rows = template_files.render_file(path)
  elif ext in (".jsonl", ".csv"):
    rows = sets.read_rows(path, read_text(path))
    if sets.is_tuning_set(path, sets.columns(rows)):
      return [_query(row, text) for row, text in sets.queries(path)]
    if ext == ".csv":  # Again, for the header's own error.
      rows = list(read_csv(path, read_text(path), required=("prompt",)))
  elif ext == ".txt":
    rows = list(read_txt(path, read_text(path)))
  else:
    raise DataError(path, f"unknown dataset format '{ext}'")
  out = []
  for row in rows:
    prompt = row.data.get("prompt")
    if not isinstance(prompt, str) or not prompt:
      raise row.error("missing required field 'prompt'", "prompt")
    out.append(_query(row, _user_text(prompt)))
  return out


def _query(row, text: str) -> Query:
  where = f"{row.path}:{row.line}" if row.line else row.path
  if row.context and not row.line:
    where = f"{row.path} ({row.context})"
  responses = ()
  if all(c in row.data for c in sets.PAIR_COLUMNS):
    responses = tuple(templates.to_text(row.data[f"response_{i}"])
                      for i in (1, 2))
  return Query(text, where, templates.to_text(row.data.get("policy", "")),
               templates.to_text(row.data.get("use_case", "")), responses)


# ---------------------------------------------------------------- text parts


def exact_duplicates(queries: Sequence[Query]) -> list[list[int]]:
  """Groups (2+ indices, first seen first) of equal normalised queries."""
  groups: dict[str, list[int]] = {}
  for i, query in enumerate(queries):
    groups.setdefault(normalise(query.text), []).append(i)
  return [g for g in groups.values() if len(g) > 1]


def same_responses(queries: Sequence[Query]) -> list[int] | None:
  """Preference rows whose two responses normalise equal; None when no
  query comes from a preference row."""
  if not any(q.responses for q in queries):
    return None
  return [i for i, q in enumerate(queries) if len(q.responses) == 2
          and normalise(q.responses[0]) == normalise(q.responses[1])]


def query_form(text: str) -> str:
  """question, instruction or statement (a heuristic on the wording)."""
  if "?" in text:
    return "question"
  sentences = [s for s in re.split(r"[.!;:\n]+", text) if words(s)]
  firsts = [words(s)[0] for s in sentences]
  if firsts and firsts[0] in _QUESTION_WORDS:
    return "question"
  if any(w in _IMPERATIVES for w in firsts):
    return "instruction"
  return "statement"


def coverage(queries: Sequence[Query]) -> dict[str, Any]:
  """Counts per policy x use_case (every combination seen, empty ones
  listed), and the spread of query lengths (in words) and forms."""
  policies = sorted({q.policy or UNSET for q in queries})
  use_cases = sorted({q.use_case or UNSET for q in queries})
  counts = {p: {u: 0 for u in use_cases} for p in policies}
  for q in queries:
    counts[q.policy or UNSET][q.use_case or UNSET] += 1
  empty = [[p, u] for p in policies for u in use_cases if not counts[p][u]]
  lengths = sorted(len(words(q.text)) for q in queries)
  forms = {"question": 0, "instruction": 0, "statement": 0}
  for q in queries:
    forms[query_form(q.text)] += 1
  quartiles = (statistics.quantiles(lengths, n=4) if len(lengths) > 1
               else lengths * 3)
  return {
      "policies": policies, "use_cases": use_cases, "counts": counts,
      "empty": empty,
      "lengths": {"min": lengths[0], "q1": quartiles[0],
                  "median": quartiles[1], "q3": quartiles[2],
                  "max": lengths[-1]},
      "forms": forms,
  }


# ------------------------------------------------------------------- report


def build(
    dataset: str | os.PathLike[str],
    eval_set: str | os.PathLike[str] | None = None,
    lm=None,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
  """The whole report as a JSON-able dict.

  Args:
    dataset: a tuning set or prompt file.
    eval_set: an evaluation set in any dataset format, or None.
    lm: a GemmaLM for near duplicates; None leaves them out.
    threshold: cosine at or above which two queries are near duplicates.
    progress: called as (done, total) with the model's forward passes.
  """
  queries = read_queries(dataset)
  evals = read_queries(eval_set) if eval_set is not None else []
  report: dict[str, Any] = {
      "dataset": os.fspath(dataset), "queries": len(queries),
      "eval_set": None if eval_set is None else os.fspath(eval_set),
      "eval_queries": len(evals),
      "threshold": threshold if lm is not None else None,
  }
  groups = exact_duplicates(queries)
  report["exact_duplicates"] = [[queries[i].as_dict() for i in g]
                                for g in groups]
  same_group = {frozenset(p) for g in groups
                for p in itertools.combinations(g, 2)}
  vectors = eval_vectors = None
  if lm is not None:
    both = query_vectors(lm, [q.text for q in queries + evals], progress)
    vectors = both[:len(queries)]
    report["near_duplicates"] = [
        {"a": queries[i].as_dict(), "b": queries[j].as_dict(),
         "similarity": s}
        for i, j, s in similar_pairs(vectors, None, threshold)
        if frozenset((i, j)) not in same_group]
    if evals:
      eval_vectors = both[len(queries):]
  else:
    report["near_duplicates"] = None
  report["eval_overlap"] = [
      m.to_dict() for m in contamination.find(
          queries, evals, vectors, eval_vectors, threshold)]
  same = same_responses(queries)
  report["same_responses"] = (None if same is None else
                              [queries[i].as_dict() for i in same])
  report["coverage"] = coverage(queries)
  return report
