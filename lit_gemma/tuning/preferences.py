"""Suspect preference labels: pairs whose preferred response looks like the
worse one, each flag naming the signal that raised it.

  not a pair  the two responses are the same (after normalising) or one is
              empty: the row teaches no preference. Listed apart, never
              counted as a disagreement.
  rule        what a safety reviewer checks first (refusals.py says what
              refuses): on a query marked `kind: adversarial`, the preferred
              response does not refuse while the rejected one does; on a
              `kind: benign` query, the preferred response refuses while the
              rejected one does not (an over-refusal taught as right)
  margin      with a model, on pairs where neither response refuses: the
              preferred response's mean log-likelihood given the query minus
              the rejected one's, below the threshold calibrated for the
              model on planted swaps (planted/preference_calibration.jsonl;
              its precision and recall are measured on
              planted/preference_check.jsonl and shown with every report).
              Pairs with a refusal are left to the rule: a short refusal is
              likely under any small LM, so there the margin measures
              brevity, not preference.

What each catches, on the planted swaps: the rule, the swaps that turn a
refusal into compliance (or the reverse) with the usual words; the margin,
a preferred answer that is plainly wrong or off the point. A harmful answer
that starts straight in, preferred over a safe redirect, is the hard case:
a small pretrained model's likelihoods barely tell the two apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from lit_gemma.prompts import templates
from lit_gemma.tuning import calibration
from lit_gemma.tuning import likelihoods
from lit_gemma.tuning import queries as queries_lib
from lit_gemma.tuning import refusals
from lit_gemma.tuning.matching import normalise

CALIBRATION_SET = "preference_calibration.jsonl"
CHECK_SET = "preference_check.jsonl"
Progress = Callable[[int, int], None]


def rule(query) -> str | None:
  """Why the rule finds the pair suspect, or None."""
  chosen = refusals.what_it_does(query.chosen)
  rejected = refusals.what_it_does(query.rejected)
  if (query.kind == "adversarial" and chosen != refusals.REFUSES
      and rejected == refusals.REFUSES):
    return ("on an adversarial query the preferred response "
            f"{'complies' if chosen == refusals.COMPLIES else 'does not refuse'}"
            " while the rejected one refuses")
  if (query.kind == "benign" and chosen == refusals.REFUSES
      and rejected != refusals.REFUSES):
    return ("on a benign query the preferred response refuses while the "
            "rejected one answers")
  return None


def not_a_pair(query) -> str | None:
  if not query.chosen.strip() or not query.rejected.strip():
    return "a response is empty"
  if normalise(query.chosen) == normalise(query.rejected):
    return "the two responses are the same"
  return None


def margin_applies(query) -> bool:
  """Neither response refuses (see the module docstring)."""
  return refusals.REFUSES not in (refusals.what_it_does(query.chosen),
                                  refusals.what_it_does(query.rejected))


def margins(lm, pairs: Sequence, progress: Progress | None = None
            ) -> list[float]:
  """Preferred minus rejected mean log-likelihood, each response given the
  query as a user turn in the model's chat format."""
  fmt = getattr(lm, "chat_format", None) or "gemma"
  prompts = [templates.chat_prompt(q.text, fmt) for q in pairs]
  scores = likelihoods.mean_log_likelihoods(
      lm, [(p, q.chosen) for p, q in zip(prompts, pairs)]
      + [(p, q.rejected) for p, q in zip(prompts, pairs)], progress)
  return [float(a - b) for a, b in zip(scores[:len(pairs)],
                                       scores[len(pairs):])]


def _planted(name: str) -> tuple[list, set[int]]:
  rows = queries_lib.read_queries(calibration.PLANTED / name)
  manifest = json.loads((calibration.PLANTED / "manifest.json").read_text())
  return rows, {i - 1 for i in manifest[name]["swapped"]}


def _figures(lm, name: str, threshold: float) -> calibration.Figures:
  rows, swapped = _planted(name)
  eligible = [i for i, q in enumerate(rows) if margin_applies(q)]
  scores = dict(zip(eligible, margins(lm, [rows[i] for i in eligible])))
  by_rule = {i for i, q in enumerate(rows) if rule(q)}
  by_margin = {i for i, m in scores.items() if m < threshold}
  flagged = by_rule | by_margin
  return calibration.Figures(
      len(swapped), len(flagged & swapped), len(flagged),
      {"rule": len(by_rule - swapped), "margin": len(by_margin - swapped
                                                     - by_rule)},
      {"rule": len(by_rule & swapped),
       "margin": len((by_margin - by_rule) & swapped)})


def _calibrate(lm) -> calibration.Calibrated:
  rows, swapped = _planted(CALIBRATION_SET)
  eligible = [i for i, q in enumerate(rows) if margin_applies(q)
              and not rule(q)]
  scores = dict(zip(eligible, margins(lm, [rows[i] for i in eligible])))
  threshold = calibration.choose(
      [m for i, m in scores.items() if i in swapped],
      [m for i, m in scores.items() if i not in swapped], flags_above=False)
  return calibration.Calibrated(
      "margin", round(threshold, 4), False,
      _figures(lm, CALIBRATION_SET, threshold),
      _figures(lm, CHECK_SET, threshold),
      f"tuning/planted/{CALIBRATION_SET}", f"tuning/planted/{CHECK_SET}")


def margin_threshold(lm) -> calibration.Calibrated:
  """The margin threshold calibrated for `lm` (about 130 responses scored,
  once a model)."""
  key = "margin:" + calibration.data_hash(CALIBRATION_SET, CHECK_SET,
                                          "manifest.json")
  return calibration.cached(lm, key, lambda: _calibrate(lm))


def check(queries: Sequence, lm=None, progress: Progress | None = None
          ) -> dict[str, Any] | None:
  """The preference section of the report; None without preference rows."""
  pairs = [q for q in queries if q.preferred]
  if not pairs:
    return None
  out: dict[str, Any] = {"pairs": len(pairs), "not_a_pair": [],
                         "suspects": [], "calibration": None,
                         "unmarked_kind": sum(q.kind not in (
                             "adversarial", "benign") for q in pairs)}
  checked = []
  for q in pairs:
    why = not_a_pair(q)
    if why:
      out["not_a_pair"].append({**q.as_dict(), "why": why})
    else:
      checked.append(q)
  scores: dict[int, float] = {}
  threshold = None
  if lm is not None:
    cal = margin_threshold(lm)
    out["calibration"] = cal.to_dict()
    threshold = cal.threshold
    eligible = [i for i, q in enumerate(checked) if margin_applies(q)]
    scores = dict(zip(eligible, margins(lm, [checked[i] for i in eligible],
                                        progress)))
  for i, q in enumerate(checked):
    signals, whys = [], []
    why = rule(q)
    if why:
      signals.append("rule")
      whys.append(why)
    if i in scores and scores[i] < threshold:
      signals.append("margin")
      whys.append(f"the model prefers the rejected response (margin "
                  f"{scores[i]:+.3f} < {threshold:+.4f})")
    if signals:
      out["suspects"].append({**q.as_dict(), "signals": signals,
                              "why": "; ".join(whys),
                              "margin": scores.get(i)})
  return out
