"""The label a dynamic template routes a row by, when the template file asks
the model (prompts/routes.py: `route: {classify: PROMPT, templates: ...}`).

The loaded Gemma answers the classification prompt by likelihood, not by
generating: each label, after a space unless the prompt ends in one, is
scored as a continuation of the prompt, and the label with the highest
total log-likelihood wins (ties: the first listed). A pretrained model that
would ramble when asked to generate still ranks a fixed set of answers,
and the answer is always one of the labels. Answers are kept in memory and,
for a model with a stable identity, in the response cache (keyed by the
model, the prompt and the labels), so the server and `evaluate` classify a
row once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np


class Classifier:
  """`classify(prompt, labels) -> label` over a GemmaLM (routes.Classify)."""

  def __init__(self, lm, cache=None, max_length: int | None = None):
    """`cache`: a ResponseCache (get_many / put_many), or None."""
    self.lm = lm
    self.cache = cache if lm.identity else None
    self.max_length = max_length
    self._known: dict[tuple[str, tuple[str, ...]], str] = {}
    self._lock = threading.Lock()

  def scores(self, prompt: str, labels: Sequence[str]) -> list[float]:
    """Total log-likelihood of each label as the prompt's continuation."""
    space = "" if not prompt or prompt[-1].isspace() else " "
    scored = self.lm.score_batch([(prompt, space + label) for label in labels],
                                 self.max_length)
    return [float(np.sum(s)) for s in scored]

  def __call__(self, prompt: str, labels: Sequence[str]) -> str:
    labels = tuple(labels)
    key = (prompt, labels)
    with self._lock:
      if key in self._known:
        return self._known[key]
    settings = {"classify": list(labels)}
    found = None
    if self.cache is not None:
      found = self.cache.get_many(self.lm.identity, [prompt], settings)[0]
    if found not in labels:
      found = labels[int(np.argmax(self.scores(prompt, labels)))]
      if self.cache is not None:
        self.cache.put_many(self.lm.identity, [prompt], [found], settings)
    with self._lock:
      self._known[key] = found
    return found
