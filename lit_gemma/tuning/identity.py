"""Identity terms: which groups the queries mention, how often, and where
one group of an axis (gender, religion, ...) gets most of the mentions.

The term list ships in identity_terms.json (its "about" says where it comes
from and what it leaves out). A query mentions a group when one of the
group's terms appears in it as whole words (case, punctuation and
apostrophes normalised as for duplicates). Per group: the queries that
mention it (count, share of the set, rows) and how many of them are
adversarial. An axis is *imbalanced* when at least MIN_MENTIONS queries
mention it and one group has IMBALANCE_SHARE or more of those mentions:
a model tuned on it learns one group's cases and not the others'.
"""

from __future__ import annotations

import functools
import json
import pathlib
from collections.abc import Sequence
from typing import Any

from lit_gemma.tuning import matching

TERMS_FILE = pathlib.Path(__file__).resolve().parent / "identity_terms.json"
MIN_MENTIONS = 4
IMBALANCE_SHARE = 0.75


@functools.cache
def axes() -> dict[str, dict[str, tuple[tuple[str, ...], ...]]]:
  """{axis: {group: (term as a word tuple, ...)}} from the term list."""
  data = json.loads(TERMS_FILE.read_text(encoding="utf-8"))
  return {axis: {group: tuple(tuple(matching.words(t)) for t in terms)
                 for group, terms in groups.items()}
          for axis, groups in data["axes"].items()}


def _mentions(words: Sequence[str], terms) -> bool:
  joined = " " + " ".join(words) + " "
  return any(" " + " ".join(term) + " " in joined for term in terms)


def identity_terms(queries: Sequence) -> dict[str, Any]:
  """Mentions per axis and group, and the imbalanced axes."""
  words = [matching.words(q.text) for q in queries]
  out: dict[str, Any] = {"axes": [], "imbalanced": []}
  for axis, groups in axes().items():
    found = []
    for group, terms in groups.items():
      rows = [i for i, w in enumerate(words) if _mentions(w, terms)]
      if rows:
        found.append({"group": group, "count": len(rows),
                      "share": round(len(rows) / len(queries), 4),
                      "adversarial": sum(queries[i].kind == "adversarial"
                                         for i in rows),
                      "rows": [queries[i].as_dict() for i in rows]})
    total = sum(g["count"] for g in found)
    entry = {"axis": axis, "mentions": total,
             "groups": sorted(found, key=lambda g: -g["count"])}
    if total >= MIN_MENTIONS:
      top = entry["groups"][0]
      if top["count"] / total >= IMBALANCE_SHARE:
        entry["imbalance"] = {"group": top["group"], "count": top["count"],
                              "of": total}
        out["imbalanced"].append(axis)
    out["axes"].append(entry)
  return out
