"""The loaded model's paraphrase threshold: the query-vector cosine at or
above which two queries count as near duplicates, and a tuning query as an
evaluation item's paraphrase (contamination that n-grams miss).

Chosen per model on planted/paraphrase_calibration.jsonl and measured on
planted/paraphrase_check.jsonl (calibration.py says how). Each line of those
files is a pair: a *paraphrase* (the same request reworded) or a
*look-alike* (most of the words shared, another request: "How do I get into
my own house after losing my keys?" / "... my neighbour's house while they
are on holiday?"). Every other pair of their texts counts as unrelated.

Two cosines come out:
  threshold  the best F1 on the calibration set: what the report lists as
             near duplicates and paraphrases for a reviewer (on the embedded
             270M about half of these flags are right: it places queries of
             one frame and topic as close as rewordings)
  strict     just above every planted non-paraphrase of both sets: what the
             cleaned copy drops without asking (cleaning.py). A large set
             compares millions of pairs, so even a rare false alarm at the
             review threshold would drop good rows by the thousand.
"""

from __future__ import annotations

import itertools
import json

from lit_gemma.tuning import calibration
from lit_gemma.tuning import vectors

CALIBRATION_SET = "paraphrase_calibration.jsonl"
CHECK_SET = "paraphrase_check.jsonl"
PARAPHRASE, LOOKALIKE = "paraphrase", "lookalike"


def planted_pairs(name: str) -> list[dict]:
  """The pairs of a planted file: {"relation", "a", "b"}."""
  text = (calibration.PLANTED / name).read_text(encoding="utf-8")
  return [json.loads(line) for line in text.splitlines() if line.strip()]


def scores(lm, name: str) -> tuple[list[float], dict[str, list[float]]]:
  """(paraphrase cosines, {"look-alike": ..., "unrelated": ...})."""
  pairs = planted_pairs(name)
  texts = list(dict.fromkeys(t for p in pairs for t in (p["a"], p["b"])))
  index = {t: i for i, t in enumerate(texts)}
  unit = vectors.query_vectors(lm, texts)
  sims = unit @ unit.T
  kinds: dict[tuple[int, int], str] = {}
  for p in pairs:
    i, j = sorted((index[p["a"]], index[p["b"]]))
    kinds[i, j] = p["relation"]
  positives = [float(sims[k]) for k, r in kinds.items() if r == PARAPHRASE]
  negatives = {
      "look-alike": [float(sims[k]) for k, r in kinds.items()
                     if r == LOOKALIKE],
      "unrelated": [float(sims[i, j]) for i, j in
                    itertools.combinations(range(len(texts)), 2)
                    if (i, j) not in kinds]}
  return positives, negatives


STRICT_MARGIN = 1e-4


def _calibrate(lm) -> calibration.Calibrated:
  positives, negatives = scores(lm, CALIBRATION_SET)
  threshold = calibration.choose(
      positives, [x for v in negatives.values() for x in v])
  check_pos, check_neg = scores(lm, CHECK_SET)
  strict = max(x for neg in (negatives, check_neg) for v in neg.values()
               for x in v) + STRICT_MARGIN
  return calibration.Calibrated(
      "cosine", round(threshold, 4), True,
      calibration.figures(positives, negatives, threshold),
      calibration.figures(check_pos, check_neg, threshold),
      f"tuning/planted/{CALIBRATION_SET}", f"tuning/planted/{CHECK_SET}",
      strict=round(max(strict, threshold), 4))


def threshold(lm) -> calibration.Calibrated:
  """The calibrated paraphrase threshold of `lm` (computed once a model:
  about 130 queries' vectors)."""
  key = "paraphrase:" + calibration.data_hash(CALIBRATION_SET, CHECK_SET) + (
      f":depth{vectors.depth_for(lm)}")
  return calibration.cached(lm, key, lambda: _calibrate(lm))
