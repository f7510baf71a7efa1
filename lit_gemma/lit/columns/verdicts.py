"""Each map's verdict as data-table columns (`NAME_verdicts`, selectable):
is the map the UI shows better than random deletions, how comprehensive
and sufficient its top segments are, and how it ranks against ablation.

For each datapoint's target (its `target`, else its `response`, else the
model's response: what Sequence Salience offers to explain) and each
(method, granularity) of `CHECKS`, the columns
`METHOD_GRANULARITY_vs_random` (1: better than random, 0: not; just
`loo_word_vs_random` where the method names its granularity), `..._gain`
(nats over the random draws' median), `..._comprehensiveness`,
`..._sufficiency` and `..._spearman` are explain/faithfulness.py's verdict,
with the CLI's defaults (`explain --check`: k a fifth of the segments and
at least 2, 20 draws, seed 0), so the numbers equal
`lit-gemma explain --check --granularity G --methods M` for the same
datapoint. A check that cannot run (fewer than 3 segments) is empty.

A row costs dozens of forward passes, so rows are computed in the
background: all of them after the warm-up with `--verdict_columns`, else
those a request asks for (lit/jobs.py: a request waits at most `WAIT_S`
and is then told how many rows are ready). The word-level checks score
each word's removal, which is the `loo_word` map of the same target: the
UI's `NAME_loo_word` group then draws it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from absl import logging
from lit_nlp.api import types as lit_types

from lit_gemma import errors
from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma.explain import ablation
from lit_gemma.explain import faithfulness
from lit_gemma.explain import registry
from lit_gemma.lit import jobs as jobs_lib
from lit_gemma.lit.columns import base
from lit_gemma.models import gate as gate_lib

CHECKS = (("grad_l2", "word"), ("grad_dot_input", "word"),
          ("integrated_gradients", "word"), ("loo_word", "word"),
          ("grad_l2", "sentence"), ("grad_dot_input", "sentence"),
          ("loo_sentence", "sentence"), ("fit_sentence", "sentence"),
          ("greedy_sentence", "sentence"))
METRICS = ("vs_random", "gain", "comprehensiveness", "sufficiency",
           "spearman")
EMPTY = float("nan")  # a check that cannot run: null, an empty cell


def verdicts_name(name: str) -> str:
  """The LIT name of model group `name`'s verdict model (selectable)."""
  return f"{name}_verdicts"


def column(method: str, granularity: str, metric: str) -> str:
  """`loo_word_gain`, `grad_l2_word_gain`: the granularity is named unless
  the method has it in its own name."""
  if registry.get(method).granularity == granularity:
    return f"{method}_{metric}"
  return f"{method}_{granularity}_{metric}"


COLUMNS = tuple(column(m, g, x) for m, g in CHECKS for x in METRICS)


def cells(verdict) -> dict[str, float]:
  """One verdict (verdicts.Faithfulness) as its five columns."""
  values = (float(verdict.better_than_random), verdict.gain,
            verdict.comprehensiveness, verdict.sufficiency, verdict.spearman)
  return {column(verdict.method, verdict.granularity, metric):
          EMPTY if value is None else float(value)
          for metric, value in zip(METRICS, values)}


def verdict_row(lm, prompt: str, target: str, max_length: int) -> dict:
  """Every column of one (prompt, target)."""
  row = dict.fromkeys(COLUMNS, EMPTY)
  methods = list(dict.fromkeys(m for m, _ in CHECKS))
  item = explain_lib.Item(prompt, target)
  try:
    exp = explain_lib.explain_many(lm, [item], methods=methods,
                                   max_length=max_length)[0]
  except ablation.AblationError:
    # A map this text refuses (greedy deletion past its most segments)
    # leaves its own columns empty, not the row's.
    methods = [m for m in methods if m not in registry.GREEDY]
    exp = explain_lib.explain_many(lm, [item], methods=methods,
                                   max_length=max_length)[0]
  for granularity in dict.fromkeys(g for _, g in CHECKS):
    checked = [m for m, g in CHECKS if g == granularity and m in methods]
    try:
      found = faithfulness.check(lm, exp, granularity, methods=checked,
                                 max_length=max_length)
    except faithfulness.FaithfulnessError:
      continue
    for verdict in found:
      row |= cells(verdict)
  return row


class VerdictModel(base.ColumnModel):
  """The verdict columns of every datapoint, computed in the background."""

  def __init__(self, lm, *, max_length: int, jobs: jobs_lib.Jobs,
               responses: Callable[[list[str]], list[str]], **kwargs):
    super().__init__(lm, max_length=max_length, **kwargs)
    self.jobs = jobs
    self.responses = responses

  def description(self) -> str:
    return ("each map's verdict: better than random deletions (1/0), gain, "
            "ERASER comprehensiveness and sufficiency, Spearman vs "
            "leave-one-out")

  def output_spec(self) -> lit_types.Spec:
    return {name: lit_types.Scalar() for name in COLUMNS}

  def key(self, example: Mapping):
    return tuple(str(example.get(name) or "") for name in
                 (fields.PROMPT, fields.TARGET, fields.RESPONSE))

  def target_of(self, example: Mapping) -> str:
    """The target the columns judge: the dataset's, else a response."""
    given = example.get(fields.TARGET) or example.get(fields.RESPONSE)
    return given or self.responses([example.get(fields.PROMPT) or ""])[0]

  def empty_row(self) -> dict:
    return dict.fromkeys(COLUMNS, EMPTY)

  def compute_row(self, example: Mapping) -> dict:
    try:
      return verdict_row(self.lm, example.get(fields.PROMPT) or "",
                         self.target_of(example), self.max_length)
    except errors.UserError as e:  # a text that cannot be explained
      logging.info("lit-gemma: no verdict columns for a row: %s", e)
      return self.empty_row()

  def missing(self, inputs: Sequence[Mapping]) -> list[Mapping]:
    return [ex for ex in inputs if self.store.get(self.key(ex)) is None]

  def predict(self, inputs, *args, **kw) -> list[dict]:
    inputs = list(inputs)
    todo = self.missing(inputs)
    if todo:
      def fill(job):
        job.unit = "rows"
        for n, example in enumerate(todo, 1):
          self.row(example)
          job.progress(n, len(todo))
      self.jobs.result(("verdicts", id(self), tuple(map(self.key, todo))),
                       fill, f"verdict columns of {len(todo)} row(s)")
    return [self.row(example) for example in inputs]


def start_worker(model: VerdictModel, examples: Sequence[Mapping],
                 gate: gate_lib.Gate = gate_lib.GATE,
                 after: threading.Thread | None = None,
                 stop: threading.Event | None = None) -> threading.Thread:
  """Computes every example's verdict columns in the background
  (base.start_worker)."""
  return base.start_worker(model, examples, "verdict columns", gate, after,
                           stop)
