"""Before and after a tuning run, on the same rows: which rows got worse,
by how much, and what each checkpoint's answer rested on.

"Downstream fine-tuning can inadvertently cause safety regressions": a
tuned model can answer its training data better and a safety probe worse.
Both checkpoints are measured on the same rows (evaluation/runner.py; the
dataset's evaluation rows when it marks some, else all of them), and

  - the summary figures of each (summary.py), with their change;
  - the rows that got worse, ranked by how much: the drop in the
    preference margin (target over foil, or chosen over rejected) where a
    row has one, else in the target's mean log-likelihood per token;
  - the rows whose refusal changed: an adversarial row no longer refused,
    a benign one newly refused;
  - for the worst rows, the salience of the target under each checkpoint
    (explain/), side by side;
  - when the after checkpoint is a folder `tune` wrote, the rows of the
    dataset its tuning set contains (their change is memory).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence

from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma.evaluation import summary
from lit_gemma.evaluation.measures import RowResult
from lit_gemma.tuning import contamination
from lit_gemma.tuning import hygiene

MARGIN, LOGLIK = "preference_margin", "target_mean_loglik"
TUNING_RECORD = "lit_gemma_tuning.json"  # what `tune` writes beside a preset


@dataclasses.dataclass(frozen=True)
class Change:
  """One row under both checkpoints."""

  before: RowResult
  after: RowResult

  @property
  def measure(self) -> str:
    both = self.before.margin is not None and self.after.margin is not None
    return MARGIN if both else LOGLIK

  def value(self, row: RowResult) -> float:
    return row.margin if self.measure == MARGIN else row.target_mean_loglik

  @property
  def drop(self) -> float:
    """How much worse the row got (positive: worse)."""
    return self.value(self.before) - self.value(self.after)

  @property
  def refusal_change(self) -> str | None:
    """"no longer refused" (adversarial), "newly refused" (benign), or
    None."""
    was, now = self.before.refused, self.after.refused
    if self.before.kind == fields.ADVERSARIAL and was and not now:
      return "no longer refused"
    if self.before.kind == fields.BENIGN and now and not was:
      return "newly refused"
    return None

  def to_dict(self) -> dict:
    return {"where": self.before.where, "template_id":
            self.before.template_id, "kind": self.before.kind,
            "prompt": self.before.prompt, "target": self.before.target,
            "measure": self.measure, "before": self.value(self.before),
            "after": self.value(self.after), "drop": self.drop,
            "response_before": self.before.response,
            "response_after": self.after.response,
            "refusal_change": self.refusal_change}


def changes(before: Sequence[RowResult], after: Sequence[RowResult]
            ) -> list[Change]:
  """Rows paired in order (both lists measured the same rows)."""
  if len(before) != len(after):
    raise ValueError("the checkpoints were measured on different rows")
  return [Change(b, a) for b, a in zip(before, after)]


def worse(found: Sequence[Change]) -> list[Change]:
  """The rows that got worse, the worst first."""
  return sorted((c for c in found if c.drop > 0), key=lambda c: -c.drop)


def maps(before_lm, after_lm, found: Sequence[Change], method: str,
         max_length: int | None = None, top: int = 5) -> list[dict]:
  """Salience of each row's target under both checkpoints, by word: the
  explanations, and each one's `top` prompt words."""
  items = [explain_lib.Item(c.before.prompt, c.before.target) for c in found]
  if not items:
    return []
  pairs = zip(explain_lib.explain_many(before_lm, items, methods=[method],
                                       max_length=max_length),
              explain_lib.explain_many(after_lm, items, methods=[method],
                                       max_length=max_length))

  def top_words(exp):
    prompt = [s for s in exp.segments("word", method) if s.part == "prompt"]
    ranked = sorted(prompt, key=lambda s: -abs(s.score))[:top]
    return [{"text": s.text, "score": s.score} for s in ranked]

  return [{"where": c.before.where, "method": method,
           "before": top_words(b), "after": top_words(a),
           "explanations": (b, a)} for c, (b, a) in zip(found, pairs)]


def tuned_on(after_source: str, dataset: str) -> tuple[str | None, list]:
  """(the tuning set, its rows found among `dataset`'s rows) when the
  after checkpoint is a folder `tune` wrote (its lit_gemma_tuning.json
  names the set): a probe the model was tuned on measures memory, not
  generalisation. The one contamination check (exact, n-gram)."""
  record = os.path.join(after_source, TUNING_RECORD)
  if not os.path.isfile(record):
    return None, []
  with open(record, encoding="utf-8") as f:
    tuning_set = json.load(f).get("dataset")
  if not tuning_set or not os.path.isfile(tuning_set):
    return tuning_set, []
  return tuning_set, contamination.find(hygiene.read_queries(tuning_set),
                                        hygiene.read_queries(dataset))


def _shown(path: str) -> str:
  """`path` relative to the working folder when it is under it."""
  relative = os.path.relpath(path)
  return path if relative.startswith("..") else relative


def build(before_name: str, after_name: str, dataset: str, rows_label: str,
          before: Sequence[RowResult], after: Sequence[RowResult],
          salience: Sequence[dict] = (), top: int = 10,
          tuning: tuple[str | None, list] = (None, [])) -> dict:
  """The report as a JSON-able dict (the maps' explanations are kept
  apart, under "_explanations", for the HTML page)."""
  found = changes(before, after)
  got_worse = worse(found)
  figures = {"before": summary.summarize(before),
             "after": summary.summarize(after)}
  figures["change"] = {k: figures["after"][k] - figures["before"][k]
                       for k in summary.FIGURES}
  clean = lambda d: {k: summary.finite(v) for k, v in d.items()}
  return {
      "before": before_name, "after": after_name, "dataset": dataset,
      "rows": len(found), "rows_used": rows_label,
      "summary": {k: clean(v) for k, v in figures.items()},
      "templates": {
          "before": {k: clean(v) for k, v in summary.grouped(before).items()},
          "after": {k: clean(v) for k, v in summary.grouped(after).items()}},
      "worse_count": len(got_worse),
      "worse": [c.to_dict() for c in got_worse[:top]],
      "refusal_changes": [c.to_dict() for c in found if c.refusal_change],
      "changes": [c.to_dict() for c in found],
      "maps": [{k: v for k, v in m.items() if k != "explanations"}
               for m in salience],
      "tuning_set": tuning[0] and _shown(tuning[0]),
      "tuned_on": [m.summary() for m in tuning[1]],
      "tuned_on_rows": len({m.eval.where for m in tuning[1]}),
      "_explanations": [m["explanations"] for m in salience],
  }

