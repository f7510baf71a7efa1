"""SFT rows whose label contradicts what the response does.

An SFT row may carry `label: safe` or `label: unsafe` (a harmful completion
kept on purpose, e.g. for a classifier); a row without one is taken as
`safe`, since an SFT target is what the model should say. With `kind`
(adversarial / benign) and `policy` (`none` for no policy) the checks are:

  rule        (refusals.py says what a response does)
              - labelled unsafe, yet the response refuses
              - labelled safe, on an adversarial query, yet the response
                complies ("Sure! Here's ...")
              - labelled unsafe on a benign query (kind: benign or policy:
                none)
  likelihood  with a model, for rows the rule cannot read (neither refusing
              nor complying by its words) on adversarial queries or with an
              unsafe label: the response's mean log-likelihood after "A
              harmful answer that does what was asked:" minus after "A safe
              answer that declines or redirects:" (both after the query).
              Its threshold is chosen per model on the planted
              safe/harmful responses of planted/preference_calibration.jsonl
              and measured on planted/preference_check.jsonl; it raises
              flags only if there at least MIN_PRECISION of its flags were
              right. A small pretrained model's likelihoods often cannot
              tell a safe answer from a harmful one; the report then says
              so and shows the figures instead of guessing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from lit_gemma.tuning import calibration
from lit_gemma.tuning import likelihoods
from lit_gemma.tuning import refusals

MIN_PRECISION = 0.8
LABELS = ("safe", "unsafe")
HARMFUL = "A request: {query}\nA harmful answer that does what was asked:\n"
SAFE = "A request: {query}\nA safe answer that declines or redirects:\n"
Progress = Callable[[int, int], None]


def label_of(query) -> str:
  """safe, unsafe, or the row's other value ("" reads as safe)."""
  return query.field("label") or "safe"


def rule(query) -> str | None:
  """Why the row's label contradicts its response, or None."""
  label, does = label_of(query), refusals.what_it_does(query.response)
  benign = query.kind == "benign" or query.field("policy") == "none"
  if label == "unsafe" and does == refusals.REFUSES:
    return "labelled unsafe, yet the response refuses"
  if label == "unsafe" and benign:
    return "labelled unsafe on a benign query"
  if (label == "safe" and query.kind == "adversarial"
      and does == refusals.COMPLIES):
    return "labelled safe, yet the response complies with an adversarial query"
  return None


def needs_likelihood(query) -> bool:
  return (refusals.what_it_does(query.response) == refusals.NEITHER and (
      query.kind == "adversarial" or label_of(query) == "unsafe"))


def compliance_scores(lm, pairs: Sequence[tuple[str, str]],
                      progress: Progress | None = None) -> list[float]:
  """For (query, response): how much likelier the response reads as a
  harmful answer than as a safe one (mean log-likelihood difference)."""
  scores = likelihoods.mean_log_likelihoods(
      lm, [(HARMFUL.format(query=q), r) for q, r in pairs]
      + [(SAFE.format(query=q), r) for q, r in pairs], progress)
  return [float(a - b) for a, b in zip(scores[:len(pairs)],
                                       scores[len(pairs):])]


def _planted(name: str) -> tuple[list[tuple[str, str]], list[bool]]:
  """(query, response) of the adversarial pairs' responses the rule cannot
  read, and whether each is the harmful one."""
  manifest = json.loads((calibration.PLANTED / "manifest.json").read_text())
  swapped = set(manifest[name]["swapped"])
  out, harmful = [], []
  text = (calibration.PLANTED / name).read_text(encoding="utf-8")
  for line, raw in enumerate(text.splitlines(), start=1):
    row = json.loads(raw)
    if row.get("kind") != "adversarial":
      continue
    good = row["preferred"] if line not in swapped else 3 - row["preferred"]
    for k in (1, 2):
      response = row[f"response_{k}"]
      if refusals.what_it_does(response) == refusals.NEITHER:
        out.append((row["query"], response))
        harmful.append(k != good)
  return out, harmful


def _split(lm, name: str) -> tuple[list[float], list[float]]:
  pairs, harmful = _planted(name)
  scores = compliance_scores(lm, pairs)
  return ([s for s, h in zip(scores, harmful) if h],
          [s for s, h in zip(scores, harmful) if not h])


def _calibrate(lm) -> calibration.Calibrated:
  pos, neg = _split(lm, "preference_calibration.jsonl")
  threshold = calibration.choose(pos, neg)
  check_pos, check_neg = _split(lm, "preference_check.jsonl")
  return calibration.Calibrated(
      "compliance", round(threshold, 4), True,
      calibration.figures(pos, {"safe response": neg}, threshold),
      calibration.figures(check_pos, {"safe response": check_neg},
                          threshold),
      "tuning/planted/preference_calibration.jsonl (harmful responses "
      "without refusal or compliance words)",
      "tuning/planted/preference_check.jsonl")


def compliance_threshold(lm) -> calibration.Calibrated:
  key = "compliance:" + calibration.data_hash(
      "preference_calibration.jsonl", "preference_check.jsonl",
      "manifest.json")
  return calibration.cached(lm, key, lambda: _calibrate(lm))


def check(queries: Sequence, lm=None, progress: Progress | None = None
          ) -> dict[str, Any] | None:
  """The SFT section of the report; None without SFT rows."""
  rows = [q for q in queries if q.response and not q.preferred]
  if not rows:
    return None
  labels = [label_of(q) for q in rows]
  out: dict[str, Any] = {
      "rows": len(rows), "labelled": sum(bool(q.field("label")) for q in rows),
      "other_labels": sorted({l for l in labels if l not in LABELS}),
      "suspects": [], "calibration": None, "likelihood_flags": False}
  scores: dict[int, float] = {}
  cal = None
  if lm is not None:
    cal = compliance_threshold(lm)
    out["calibration"] = cal.to_dict()
    out["likelihood_flags"] = (cal.check.precision >= MIN_PRECISION
                               and cal.check.found > 0)
    todo = [i for i, q in enumerate(rows) if needs_likelihood(q)]
    if out["likelihood_flags"]:
      scores = dict(zip(todo, compliance_scores(
          lm, [(rows[i].text, rows[i].response) for i in todo], progress)))
  for i, q in enumerate(rows):
    signals, whys = [], []
    why = rule(q)
    if why:
      signals.append("rule")
      whys.append(why)
    elif i in scores and labels[i] in LABELS:
      complies = scores[i] >= cal.threshold
      if complies == (labels[i] == "safe"):
        signals.append("likelihood")
        whys.append(f"labelled {labels[i]}, yet the model reads it as "
                    f"{'complying' if complies else 'declining'} (score "
                    f"{scores[i]:+.3f} vs {cal.threshold:+.4f})")
    if signals:
      out["suspects"].append({**q.as_dict(), "signals": signals,
                              "why": "; ".join(whys), "label": labels[i]})
  return out
