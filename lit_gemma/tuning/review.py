"""The review file: what a tuning set is expected to cover, and which
evaluation set it must not contain.

Counting the (policy, use case) cells present in the data cannot show a
policy that is missing entirely; a reviewer declares the lists instead:

    # review.yaml (or .json); every key optional
    eval_set: tuning_eval.jsonl     # relative to this file; or a list
    policies: [dangerous_content, harassment, fraud, self_harm]
    use_cases: [chat, customer_support, education]
    balance:                        # a row field -> the share of each value
      kind: {adversarial: 0.5, benign: 0.5}
    min_per_cell: 2                 # fewer rows than this: a thin cell
    tolerance: 0.25                 # a cell's share this far off: off balance

A mistake is one line naming the file and the key (`review.yaml: balance.kind:
shares add up to 0.8, not 1`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import read_structured
from lit_gemma.prompts.files import read_text

KEYS = ("eval_set", "policies", "use_cases", "balance", "min_per_cell",
        "tolerance")
MIN_PER_CELL = 2
TOLERANCE = 0.25


@dataclasses.dataclass(frozen=True)
class Review:
  """A parsed review file (all parts optional)."""

  path: str = ""
  eval_sets: tuple[str, ...] = ()
  policies: tuple[str, ...] = ()
  use_cases: tuple[str, ...] = ()
  balance: dict[str, dict[str, float]] = dataclasses.field(
      default_factory=dict)
  min_per_cell: int = MIN_PER_CELL
  tolerance: float = TOLERANCE

  @property
  def declared(self) -> bool:
    return bool(self.policies or self.use_cases or self.balance)

  def to_dict(self) -> dict[str, Any]:
    return {"path": self.path, "eval_sets": list(self.eval_sets),
            "policies": list(self.policies),
            "use_cases": list(self.use_cases), "balance": self.balance,
            "min_per_cell": self.min_per_cell, "tolerance": self.tolerance}


def _names(path: str, key: str, value: Any) -> tuple[str, ...]:
  if not isinstance(value, list) or not value or not all(
      isinstance(v, (str, int)) and str(v).strip() for v in value):
    raise DataError(path, f"{key}: expected a list of names, got "
                    f"{value!r}", field=key)
  names = tuple(str(v).strip() for v in value)
  repeated = sorted({n for n in names if names.count(n) > 1})
  if repeated:
    raise DataError(path, f"{key}: {repeated[0]!r} is listed twice",
                    field=key)
  return names


def _number(path: str, key: str, value: Any, low: float, high: float,
            whole: bool = False) -> float:
  ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
      low <= value <= high) and (not whole or float(value).is_integer())
  if not ok:
    kind = "a whole number" if whole else "a number"
    raise DataError(path, f"{key}: expected {kind} from {low:g} to {high:g},"
                    f" got {value!r}", field=key)
  return value


def _balance(path: str, value: Any) -> dict[str, dict[str, float]]:
  if not isinstance(value, dict) or not value:
    raise DataError(path, "balance: expected a field name with the share of "
                    "each of its values (balance: {kind: {adversarial: 0.5, "
                    "benign: 0.5}})", field="balance")
  out = {}
  for field, shares in value.items():
    key = f"balance.{field}"
    if not isinstance(shares, dict) or len(shares) < 2:
      raise DataError(path, f"{key}: expected two or more values with their "
                      f"shares, got {shares!r}", field=key)
    out[str(field)] = {str(v).strip().lower(): float(_number(
        path, f"{key}.{v}", s, 0.0, 1.0)) for v, s in shares.items()}
    total = sum(out[str(field)].values())
    if abs(total - 1.0) > 1e-6:
      raise DataError(path, f"{key}: shares add up to {total:g}, not 1",
                      field=key)
  return out


def load(path: str | os.PathLike[str]) -> Review:
  """The review file at `path` (.yaml, .yml or .json)."""
  path = os.fspath(path)
  if os.path.splitext(path)[1].lower() not in (".yaml", ".yml", ".json"):
    raise DataError(path, "a review file is .yaml, .yml or .json")
  data = read_structured(path, read_text(path))
  if data is None:
    data = {}
  if not isinstance(data, dict):
    raise DataError(path, "expected a mapping of review keys ("
                    f"{', '.join(KEYS)})")
  unknown = sorted(str(k) for k in data if k not in KEYS)
  if unknown:
    raise DataError(path, f"unknown key {unknown[0]!r} (known: "
                    f"{', '.join(KEYS)})", field=unknown[0])
  evals = data.get("eval_set", [])
  evals = [evals] if isinstance(evals, str) else evals
  if not isinstance(evals, list) or not all(
      isinstance(e, str) and e.strip() for e in evals):
    raise DataError(path, "eval_set: expected a file name or a list of them",
                    field="eval_set")
  here = os.path.dirname(path)
  resolved = []
  for name in evals:
    full = name if os.path.isabs(name) else os.path.join(here, name)
    if not os.path.isfile(full):
      raise DataError(path, f"eval_set: no file {name!r} (paths are relative "
                      "to the review file)", field="eval_set")
    resolved.append(full)
  return Review(
      path=path, eval_sets=tuple(resolved),
      policies=(_names(path, "policies", data["policies"])
                if "policies" in data else ()),
      use_cases=(_names(path, "use_cases", data["use_cases"])
                 if "use_cases" in data else ()),
      balance=_balance(path, data["balance"]) if "balance" in data else {},
      min_per_cell=int(_number(path, "min_per_cell",
                               data.get("min_per_cell", MIN_PER_CELL), 1,
                               1e9, whole=True)),
      tolerance=float(_number(path, "tolerance",
                              data.get("tolerance", TOLERANCE), 0.0, 1.0)))
