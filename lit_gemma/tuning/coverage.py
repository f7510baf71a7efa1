"""Coverage: rows per (policy, use case) cell, against what the review file
declares.

Without a declaration only the cells of policies and use cases present in
the data can be counted (a policy missing entirely is invisible). With one
(review.py), every declared cell is counted and the report lists:
  empty          declared cells with no row
  thin           cells with fewer rows than `min_per_cell`
  undeclared     policies or use cases in the data but not declared
  off balance    cells whose share of a declared value (e.g. kind:
                 adversarial) is more than `tolerance` from the declared
                 share (cells with at least `min_per_cell` rows), and the
                 whole set's shares
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lit_gemma.tuning import review as review_lib

UNSET = "(none)"  # A missing policy, use case or balance value.


def _value(query, field: str) -> str:
  return query.field(field) or UNSET


def coverage(queries: Sequence, review: review_lib.Review | None = None
             ) -> dict[str, Any]:
  """Counts per policy x use case and what the declaration says of them."""
  review = review or review_lib.Review()
  seen_p = sorted({q.policy or UNSET for q in queries})
  seen_u = sorted({q.use_case or UNSET for q in queries})
  policies = list(review.policies) or seen_p
  use_cases = list(review.use_cases) or seen_u
  rows_p = policies + [p for p in seen_p if p not in policies]
  rows_u = use_cases + [u for u in seen_u if u not in use_cases]
  counts = {p: {u: 0 for u in rows_u} for p in rows_p}
  members: dict[tuple[str, str], list] = {}
  for q in queries:
    cell = (q.policy or UNSET, q.use_case or UNSET)
    counts[cell[0]][cell[1]] += 1
    members.setdefault(cell, []).append(q)
  empty = [[p, u] for p in policies for u in use_cases if not counts[p][u]]
  out: dict[str, Any] = {
      "declared": review.declared, "policies": rows_p, "use_cases": rows_u,
      "counts": counts, "empty": empty, "thin": [], "undeclared": {},
      "balance": [], "off_balance": []}
  if not review.declared:
    return out
  out["thin"] = [[p, u, counts[p][u]] for p in policies for u in use_cases
                 if 0 < counts[p][u] < review.min_per_cell]
  if review.policies:
    out["undeclared"]["policies"] = {
        p: sum(counts[p].values()) for p in seen_p if p not in policies}
  if review.use_cases:
    out["undeclared"]["use_cases"] = {
        u: sum(counts[p][u] for p in rows_p) for u in seen_u
        if u not in use_cases}
  out["undeclared"] = {k: v for k, v in out["undeclared"].items() if v}
  for field, expected in review.balance.items():
    values = [_value(q, field) for q in queries]
    shares = {v: (values.count(v) / len(values) if values else 0.0)
              for v in list(expected) + sorted(set(values) - set(expected))}
    out["balance"].append({"field": field, "expected": expected,
                           "shares": {v: round(s, 4)
                                      for v, s in shares.items()}})
    for (p, u), rows in sorted(members.items()):
      if len(rows) < review.min_per_cell:
        continue
      cell_values = [_value(q, field) for q in rows]
      for value, want in expected.items():
        share = cell_values.count(value) / len(rows)
        if abs(share - want) > review.tolerance + 1e-9:
          out["off_balance"].append({
              "policy": p, "use_case": u, "field": field, "value": value,
              "share": round(share, 4), "expected": want,
              "rows": len(rows)})
          break  # one line a cell and field
  return out
