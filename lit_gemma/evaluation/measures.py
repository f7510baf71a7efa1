"""What is measured on one evaluation row: the target's log-likelihood,
how the generated response compares with the target, whether it refuses,
and the margin of the target over a foil or rejected response.

`evaluate`, `regressions` and the LIT UI's evaluation columns all build
their rows here, so a figure means the same in each:

  target_loglik       sum of log p(target token | everything before it)
  target_mean_loglik  the same per target token
  short               the target has at most SHORT_TARGET_WORDS words: a
                      short answer, judged by exact and contains match;
                      longer targets are judged by ROUGE-L
  exact_match         1 if the response equals the target after
                      normalising case, spacing and outer punctuation
  contains            1 if the normalised response contains the
                      normalised target
  rouge_l             ROUGE-L F1 of response against target (stemmed, as
                      LIT's own ROUGE metric scores it)
  refused             1 if the response refuses (refusals.py)
  margin              mean log-likelihood of the target minus that of the
                      foil (`foil`) or, in a preference pair, of the chosen
                      minus the rejected response; None without either
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from rouge_score import rouge_scorer

from lit_gemma import fields
from lit_gemma.evaluation import refusals

SHORT_TARGET_WORDS = 4
_SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


@dataclasses.dataclass(frozen=True)
class RowResult:
  """One evaluation row's measures (module docstring), with the labels
  the figures are grouped by."""

  template_id: str
  route: str
  split: str
  kind: str
  prompt: str
  target: str
  response: str
  target_loglik: float
  target_tokens: int
  exact_match: float
  contains: float
  rouge_l: float
  refused: float
  margin: float | None = None
  where: str = ""  # "dataset row N", for reports

  @property
  def target_mean_loglik(self) -> float:
    return self.target_loglik / self.target_tokens if self.target_tokens \
        else 0.0

  @property
  def short(self) -> bool:
    return is_short(self.target)

  def to_dict(self) -> dict[str, Any]:
    out = dataclasses.asdict(self)
    out["target_mean_loglik"] = self.target_mean_loglik
    out["short"] = self.short
    return out


# A row's measures as numbers (the LIT evaluation columns); `margin` is 0
# where the row has none, which `from_columns` reads back as None.
COLUMNS = ("target_loglik", "target_mean_loglik", "target_tokens",
           "exact_match", "contains", "rouge_l", "refused", "margin")


def columns(row: RowResult) -> dict[str, float]:
  """`row`'s COLUMNS."""
  return {"target_loglik": row.target_loglik,
          "target_mean_loglik": row.target_mean_loglik,
          "target_tokens": row.target_tokens,
          "exact_match": row.exact_match, "contains": row.contains,
          "rouge_l": row.rouge_l, "refused": row.refused,
          "margin": 0.0 if row.margin is None else row.margin}


def from_columns(example: Mapping[str, Any], values: Mapping[str, Any],
                 response: str) -> RowResult:
  """The RowResult a datapoint's COLUMNS describe (what `columns` gave)."""
  has_margin = other_text(example) is not None
  return RowResult(
      template_id=str(example.get(fields.TEMPLATE_ID) or ""),
      route=str(example.get(fields.ROUTE) or ""),
      split=str(example.get(fields.SPLIT) or ""),
      kind=str(example.get(fields.KIND) or ""),
      prompt=str(example.get(fields.PROMPT) or ""),
      target=str(example.get(fields.TARGET) or ""), response=response,
      target_loglik=float(values["target_loglik"]),
      target_tokens=int(values["target_tokens"]),
      exact_match=float(values["exact_match"]),
      contains=float(values["contains"]), rouge_l=float(values["rouge_l"]),
      refused=float(values["refused"]),
      margin=float(values["margin"]) if has_margin else None)


def normalise(text: str) -> str:
  """Lower case, one space between words, outer punctuation dropped."""
  return _EDGE.sub("", " ".join(text.casefold().split()))


def is_short(target: str) -> bool:
  return len(target.split()) <= SHORT_TARGET_WORDS


def text_measures(target: str, response: str) -> dict[str, float]:
  """exact_match, contains, rouge_l and refused of `response`."""
  norm_target, norm_response = normalise(target), normalise(response)
  rouge = _SCORER.score(target=target, prediction=response)["rougeL"]
  return {
      "exact_match": float(bool(norm_target) and norm_target ==
                           norm_response),
      "contains": float(bool(norm_target) and norm_target in norm_response),
      "rouge_l": float(rouge.fmeasure),
      "refused": float(refusals.is_refusal(response)),
  }


def other_text(example: Mapping[str, Any]) -> tuple[str, int] | None:
  """(text the target is contrasted with, +1 or -1): the foil (+1: the
  margin is target minus foil), or a preference datapoint's other response
  (+1 on the chosen datapoint, -1 on the rejected one); None without."""
  foil = str(example.get(fields.FOIL) or "")
  if foil:
    return foil, 1
  paired = str(example.get(fields.PAIRED_TARGET) or "")
  preferred = str(example.get(fields.IS_PREFERRED, "")).lower()
  if paired and preferred in ("true", "false"):
    return paired, 1 if preferred == "true" else -1
  return None


def margin(target_logprobs, other_logprobs, sign: int) -> float:
  """Mean log-likelihood of the preferred text minus the other's."""
  mean = lambda lp: float(lp.sum()) / len(lp) if len(lp) else 0.0
  return sign * (mean(target_logprobs) - mean(other_logprobs))


def row_result(example: Mapping[str, Any], response: str, target_logprobs,
               other_logprobs=None, where: str = "") -> RowResult:
  """A RowResult from a datapoint, its generated response and the
  log-probabilities of its target (and of its foil or paired response,
  as `other_text` names it)."""
  target = str(example.get(fields.TARGET) or "")
  other = other_text(example)
  row_margin = None
  if other is not None and other_logprobs is not None:
    row_margin = margin(target_logprobs, other_logprobs, other[1])
  return RowResult(
      template_id=str(example.get(fields.TEMPLATE_ID) or ""),
      route=str(example.get(fields.ROUTE) or ""),
      split=str(example.get(fields.SPLIT) or ""),
      kind=str(example.get(fields.KIND) or ""),
      prompt=str(example.get(fields.PROMPT) or ""), target=target,
      response=response, target_loglik=float(target_logprobs.sum()),
      target_tokens=len(target_logprobs),
      margin=row_margin, where=where, **text_measures(target, response))
