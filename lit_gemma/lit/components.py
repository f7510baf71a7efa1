"""LIT components whose cost grows with the square of their input, bounded.

  - Word Replacer writes one copy of a text per match and target, so its
    output grows with the square of the text (8 KB in: 33 MB out). Here it
    stops with a 400 once a request's output passes `WORD_REPLACER_MAX_BYTES`;
    team servers leave it out.
  - ROUGE-L's longest common subsequence is pure Python, quadratic in words
    (5,000 words: 9 s). Each (reference, prediction) pair may have at most
    `ROUGE_MAX_PAIR` word pairs, and one request `ROUGE_MAX_TOTAL`.
"""

from __future__ import annotations

import threading

from lit_nlp.components import core
from lit_nlp.components import word_replacer

from lit_gemma.lit import evaluation_metrics
from lit_gemma.lit import internals
from lit_gemma.web.request_checks import BadRequest

WORD_REPLACER = "Word Replacer"
WORD_REPLACER_MAX_BYTES = 4 << 20
ROUGE = "rouge"
ROUGE_MAX_PAIR = 1_000_000     # About 0.4 s of LCS.
ROUGE_MAX_TOTAL = 10_000_000   # About 4 s per request.


class BoundedWordReplacer(word_replacer.WordReplacer):
  """Word Replacer that refuses a request whose output would pass a bound."""

  def __init__(self, max_bytes: int = WORD_REPLACER_MAX_BYTES):
    super().__init__()
    self.max_bytes = max_bytes
    self._left = threading.local()

  def generate_all(self, inputs, model, dataset, config=None):
    self._left.bytes = self.max_bytes
    return super().generate_all(inputs, model, dataset, config=config)

  def generate_counterfactuals(self, text, *args, **kw):
    for counterfactual in super().generate_counterfactuals(text, *args, **kw):
      left = getattr(self._left, "bytes", self.max_bytes) - len(counterfactual)
      self._left.bytes = left
      if left < 0:
        raise BadRequest(
            f"Word Replacer output is over {self.max_bytes} characters; use "
            f"shorter texts or fewer substitutions")
      yield counterfactual


class BoundedRougeL(internals.RougeLHooks):
  """ROUGE-L that refuses texts whose LCS would take too long."""

  def __init__(self, max_pair: int = ROUGE_MAX_PAIR,
               max_total: int = ROUGE_MAX_TOTAL):
    super().__init__()
    self.max_pair = max_pair
    self.max_total = max_total
    self._left = threading.local()

  def run(self, *args, **kw):
    self._left.total = self.max_total
    return super().run(*args, **kw)

  def check_pair(self, reference, prediction) -> None:
    pairs = len(str(reference).split()) * len(str(prediction).split())
    if pairs > self.max_pair:
      raise BadRequest(
          f"ROUGE of a {len(str(reference).split())}-word reference and a "
          f"{len(str(prediction).split())}-word prediction is over "
          f"{self.max_pair} word pairs")
    left = getattr(self._left, "total", self.max_total) - pairs
    self._left.total = left
    if left < 0:
      raise BadRequest(f"ROUGE over this request's texts is over "
                       f"{self.max_total} word pairs; select fewer examples")


def generators(team_mode: bool) -> dict:
  """LIT's default generators, Word Replacer bounded (left out in team
  mode)."""
  found = core.default_generators()
  if team_mode:
    found.pop(WORD_REPLACER, None)
  else:
    found[WORD_REPLACER] = BoundedWordReplacer()
  return found


def metrics() -> dict:
  """LIT's default metrics, ROUGE bounded, and `lit-gemma evaluate`'s
  figures for the evaluation models (evaluation_metrics.py)."""
  return core.default_metrics() | {
      ROUGE: BoundedRougeL(),
      evaluation_metrics.NAME: evaluation_metrics.EvaluationMetrics()}
