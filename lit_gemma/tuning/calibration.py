"""Thresholds chosen per model on planted cases, with figures that say what
a flag means.

A threshold that suits one model means nothing for another (the embedded
270M's query vectors sit near cosine 0.9; a tiny random model's elsewhere).
So each threshold is chosen for the loaded model on a *calibration* set of
planted cases (the value with the best F1 there; on a tie, the one that
flags least) and its precision and recall are then measured on a separate
*check* set, so the report says how a flag fared on data it was not chosen
on. The planted sets ship in `tuning/planted/` (see its README.md):

  paraphrase  query-vector cosine at or above which two queries are near
              duplicates, or a query an evaluation item's paraphrase
              (paraphrases.py)
  margin      preference margin below which a pair's label is suspect
              (preferences.py)
  refusal     likelihood score above which a response reads as complying
              (responses.py)

A result is kept per model in memory and, for a model with an identity (a
file or a preset), on disk under $LIT_GEMMA_CACHE/hygiene, keyed by the
planted data's hash and VERSION, so each model is calibrated once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lit_gemma import paths

PLANTED = pathlib.Path(__file__).resolve().parent / "planted"
VERSION = 2  # Bump when a measure or a rule changes what it computes.


@dataclasses.dataclass(frozen=True)
class Figures:
  """How a threshold fares on planted cases."""

  planted: int  # planted positives
  found: int  # planted positives flagged
  flagged: int  # everything flagged (false alarms = flagged - found)
  # What kinds of negative were flagged, e.g. {"look-alike": 3}.
  false_alarms: dict[str, int] = dataclasses.field(default_factory=dict)
  # Planted positives each signal found, where several flag together.
  by_signal: dict[str, int] = dataclasses.field(default_factory=dict)

  @property
  def recall(self) -> float:
    return self.found / self.planted if self.planted else 0.0

  @property
  def precision(self) -> float:
    return self.found / self.flagged if self.flagged else 1.0

  def summary(self) -> str:
    """'found 14 of 16 planted (recall 0.88), 14 of 20 flags right
    (precision 0.70; false alarms: 6 look-alike)'"""
    alarms = ", ".join(f"{n} {kind}" for kind, n in self.false_alarms.items()
                       if n)
    signals = ", ".join(f"{n} by the {name}" for name, n in
                        self.by_signal.items())
    return (f"found {self.found} of {self.planted} planted (recall "
            f"{self.recall:.2f}{'; ' + signals if signals else ''}), "
            f"{self.found} of {self.flagged} flags right (precision "
            f"{self.precision:.2f}"
            + (f"; false alarms: {alarms})" if alarms else ")"))

  def to_dict(self) -> dict[str, Any]:
    return {"planted": self.planted, "found": self.found,
            "flagged": self.flagged, "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "false_alarms": dict(self.false_alarms),
            "by_signal": dict(self.by_signal)}

  @classmethod
  def from_dict(cls, d: dict[str, Any]) -> "Figures":
    return cls(d["planted"], d["found"], d["flagged"],
               dict(d.get("false_alarms", {})), dict(d.get("by_signal", {})))


@dataclasses.dataclass(frozen=True)
class Calibrated:
  """A threshold for one model and how it fared."""

  name: str  # "paraphrase", "margin", ...
  threshold: float
  flags_above: bool  # True: a score >= threshold flags; False: < flags
  calibration: Figures  # on the set it was chosen on
  check: Figures  # on the set kept apart
  calibration_set: str
  check_set: str
  # A stricter threshold on the same side: past every planted negative of
  # both sets, for what is acted on without a reviewer (None: not set).
  strict: float | None = None

  def flags(self, score: float) -> bool:
    return (score >= self.threshold if self.flags_above
            else score < self.threshold)

  def to_dict(self) -> dict[str, Any]:
    out = dataclasses.asdict(self)
    out["calibration"] = self.calibration.to_dict()
    out["check"] = self.check.to_dict()
    return out

  @classmethod
  def from_dict(cls, d: dict[str, Any]) -> "Calibrated":
    return cls(d["name"], d["threshold"], d["flags_above"],
               Figures.from_dict(d["calibration"]),
               Figures.from_dict(d["check"]), d["calibration_set"],
               d["check_set"], d.get("strict"))

  def describe(self) -> str:
    """One line for a report."""
    side = ">=" if self.flags_above else "<"
    return (f"{self.name} {side} {self.threshold:.4f}, chosen for this model "
            f"on {self.calibration_set} ({self.calibration.summary()}); on "
            f"{self.check_set}, kept apart: {self.check.summary()}")


def choose(positives: Sequence[float], negatives: Sequence[float],
           flags_above: bool = True) -> float:
  """The threshold with the best F1 at flagging `positives` and not
  `negatives` (midway between two neighbouring scores); on a tie, the one
  that flags least."""
  pos = np.asarray(positives, np.float64)
  neg = np.asarray(negatives, np.float64)
  if not flags_above:
    pos, neg = -pos, -neg
  scores = np.unique(np.concatenate([pos, neg]))
  if not len(scores):
    return 0.0
  cuts = np.concatenate([(scores[:-1] + scores[1:]) / 2, [scores[-1] + 1e-6]])
  best, best_f1 = cuts[-1], -1.0
  for cut in cuts[::-1]:  # strictest first: ties keep the strictest
    tp = int((pos >= cut).sum())
    fp = int((neg >= cut).sum())
    f1 = 2 * tp / (2 * tp + fp + (len(pos) - tp)) if len(pos) else 0.0
    if f1 > best_f1 + 1e-12:
      best, best_f1 = cut, f1
  return float(best if flags_above else -best)


def figures(positives: Sequence[float], negatives: dict[str, Sequence[float]],
            threshold: float, flags_above: bool = True) -> Figures:
  """Figures at `threshold`; `negatives` by kind ("look-alike", ...)."""
  flag = ((lambda x: np.asarray(x) >= threshold) if flags_above
          else (lambda x: np.asarray(x) < threshold))
  found = int(flag(positives).sum()) if len(positives) else 0
  alarms = {kind: int(flag(v).sum()) if len(v) else 0
            for kind, v in negatives.items()}
  return Figures(len(positives), found, found + sum(alarms.values()), alarms)


def data_hash(*names: str) -> str:
  """A short hash of planted files (their bytes)."""
  digest = hashlib.sha256(str(VERSION).encode())
  for name in names:
    digest.update((PLANTED / name).read_bytes())
  return digest.hexdigest()[:16]


_LOCK = threading.Lock()
_MEMORY: "weakref.WeakKeyDictionary[object, dict]" = (
    weakref.WeakKeyDictionary())


def _disk_path(lm, key: str) -> pathlib.Path | None:
  identity = getattr(lm, "identity", None)
  if not identity:
    return None
  dtype = str(getattr(lm.engine.forward, "dtype", ""))
  name = hashlib.sha256(f"{identity}|{dtype}|{key}".encode()).hexdigest()[:24]
  return paths.hygiene_dir() / f"{name}.json"


def cached(lm, key: str, compute: Callable[[], Calibrated]) -> Calibrated:
  """`compute()` once per model and key (memory, then disk)."""
  with _LOCK:
    memo = _MEMORY.setdefault(lm, {})
    if key in memo:
      return memo[key]
  path = _disk_path(lm, key)
  result = None
  if path is not None and path.exists():
    try:
      result = Calibrated.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):
      result = None  # A stale or broken file: computed again below.
  if result is None:
    result = compute()
    if path is not None:
      path.parent.mkdir(parents=True, exist_ok=True)
      tmp = path.with_suffix(".tmp")
      tmp.write_text(json.dumps(result.to_dict(), indent=1))
      tmp.replace(path)
  with _LOCK:
    _MEMORY.setdefault(lm, {})[key] = result
  return result
