"""A map's verdict: the deletion test and rank agreement of one method's
salience at one granularity, as a value that travels with an Explanation
(JSON, the CLI's report, batch records). faithfulness.py computes it.
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
    random_drops: the drop for each random draw of k segments.
    seed: the random draws' seed.
    spearman: rank correlation of the map with the ablation (None when
      either is constant).
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

  @property
  def random_threshold(self) -> float:
    """The 90th percentile of the random drops."""
    return float(np.percentile(self.random_drops, PERCENTILE))

  @property
  def better_than_random(self) -> bool:
    return self.top_k_drop > self.random_threshold

  def summary(self) -> str:
    """One line a user can act on."""
    verdict = ("better than random" if self.better_than_random else
               "NO BETTER THAN RANDOM: do not trust this map here")
    rho = "n/a" if self.spearman is None else f"{self.spearman:+.2f}"
    return (f"{self.method} by {self.granularity}: removing its top "
            f"{self.k} of {len(self.segments)} drops the target's "
            f"log-likelihood by {self.top_k_drop:.3f}; {len(self.random_drops)}"
            f" random draws: median {np.median(self.random_drops):.3f}, "
            f"90th percentile {self.random_threshold:.3f} -> {verdict}; "
            f"Spearman vs ablation {rho}")

  def to_dict(self) -> dict:
    d = dataclasses.asdict(self)
    d["better_than_random"] = self.better_than_random
    return d

  @classmethod
  def from_dict(cls, d: dict) -> "Faithfulness":
    names = {f.name for f in dataclasses.fields(cls)}
    d = {k: v for k, v in d.items() if k in names}
    for key in ("segments", "ablation_drops", "top_k", "random_drops"):
      d[key] = tuple(d[key])
    return cls(**d)
