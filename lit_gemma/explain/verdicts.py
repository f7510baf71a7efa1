"""A map's verdict: the deletion test, ERASER's comprehensiveness and
sufficiency, and rank agreement with ablation, of one method's salience at
one granularity, as a value that travels with an Explanation (JSON, the
CLI's report, batch records, the UI's verdict columns). faithfulness.py
computes it.

The measure m is the explained span's log-likelihood given the prompt (the
contrast's, log p(target span) - log p(foil), with a foil), in nats:

- deletion test: remove the map's top k >= 2 segments together and k
  random segments (`DRAWS` seeded draws, those that happen to be the map's
  own top k left out); the map is better than random when its drop
  m(full) - m(without top k) is above the random drops' 90th percentile.
  `gain` is its drop minus the random drops' median.
- comprehensiveness (ERASER, DeYoung et al. 2020): m(full) - m(without the
  top k'), as AOPC: the mean over k' = 1..k. Higher is better.
- sufficiency (ERASER): m(full) - m(only the top k' kept), AOPC over the
  same k'. Lower is better (0: the top segments alone keep the target as
  likely as the whole prompt does).
- Spearman: rank correlation of the map with each segment's own drop.
"""

from __future__ import annotations

import dataclasses

import numpy as np

DRAWS = 20
PERCENTILE = 90


@dataclasses.dataclass(frozen=True)
class Faithfulness:
  """One method's deletion test and rank agreement at one granularity.

  Attributes:
    method, granularity: what was checked.
    k: how many segments each deletion removes (of `len(segments)`).
    segments: the prompt's segment texts.
    ablation_drops: each segment's own drop (ablation.py).
    top_k: indices into `segments` of the map's top k.
    top_k_drop: the drop when the top k are removed together.
    random_drops: the drop for each random draw of k segments (other than
      the map's top k).
    seed: the random draws' seed.
    spearman: rank correlation of the map with the ablation (None when
      either is constant).
    removal_drops: the drop with the top 1, 2, ..., k removed.
    kept_drops: the drop with only the top 1, 2, ..., k kept.
    foil: the contrast's foil, "" for none.
  """

  method: str
  granularity: str
  k: int
  segments: tuple[str, ...]
  ablation_drops: tuple[float, ...]
  top_k: tuple[int, ...]
  top_k_drop: float
  random_drops: tuple[float, ...]
  seed: int
  spearman: float | None
  removal_drops: tuple[float, ...] = ()
  kept_drops: tuple[float, ...] = ()
  foil: str = ""

  @property
  def random_threshold(self) -> float:
    """The 90th percentile of the random drops."""
    return float(np.percentile(self.random_drops, PERCENTILE))

  @property
  def better_than_random(self) -> bool:
    return self.top_k_drop > self.random_threshold

  @property
  def gain(self) -> float:
    """The deletion test's gain over random: the top k's drop minus the
    random drops' median."""
    return float(self.top_k_drop - np.median(self.random_drops))

  @property
  def comprehensiveness(self) -> float | None:
    """ERASER's comprehensiveness, AOPC over k' = 1..k (higher: better)."""
    return float(np.mean(self.removal_drops)) if self.removal_drops else None

  @property
  def sufficiency(self) -> float | None:
    """ERASER's sufficiency, AOPC over k' = 1..k (lower: better)."""
    return float(np.mean(self.kept_drops)) if self.kept_drops else None

  def summary(self) -> str:
    """One line a user can act on."""
    verdict = ("better than random" if self.better_than_random else
               "NO BETTER THAN RANDOM: do not trust this map here")
    rho = "n/a" if self.spearman is None else f"{self.spearman:+.2f}"
    measure = ("log p(target) - log p(foil)" if self.foil else
               "the target's log-likelihood")
    eraser = ""
    if self.removal_drops:
      eraser = (f"; comprehensiveness {self.comprehensiveness:+.3f}, "
                f"sufficiency {self.sufficiency:+.3f} (AOPC, k=1..{self.k})")
    return (f"{self.method} by {self.granularity}: removing its top "
            f"{self.k} of {len(self.segments)} drops {measure} by "
            f"{self.top_k_drop:.3f}; {len(self.random_drops)} random draws:"
            f" median {np.median(self.random_drops):.3f}, 90th percentile "
            f"{self.random_threshold:.3f} -> {verdict} (gain over random "
            f"{self.gain:+.3f}){eraser}; Spearman vs ablation {rho}")

  def to_dict(self) -> dict:
    d = dataclasses.asdict(self)
    for name in ("better_than_random", "gain", "comprehensiveness",
                 "sufficiency"):
      d[name] = getattr(self, name)
    return d

  @classmethod
  def from_dict(cls, d: dict) -> "Faithfulness":
    names = {f.name for f in dataclasses.fields(cls)}
    d = {k: v for k, v in d.items() if k in names}
    for key in ("segments", "ablation_drops", "top_k", "random_drops",
                "removal_drops", "kept_drops"):
      d[key] = tuple(d.get(key, ()))
    return cls(**d)
