"""Leave-one-out maps (`loo_word`, `loo_sentence`, `loo_line`): each prompt
segment's drop in the target's log-likelihood when it is removed (the
contrast's, with a foil), as per-token scores.

A segment's drop is spread evenly over its tokens, so the sum the UI shows
at the method's own granularity is the drop itself (at another granularity
the sums mix segments: read each map at its own). The target's tokens
score 0. Every target token is scored once per removal (ablation.py keeps
the rows), so another span of the same text costs no forward pass.

Orientation: positive means the target relies on the segment (removing it
lowers the target's log-likelihood); LIT's UI draws these maps with its
unsigned colour map, which shows positive scores and leaves negative ones
white (a chip's tooltip still shows its signed score).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lit_gemma.explain import ablation
from lit_gemma.explain import registry

if TYPE_CHECKING:
  from lit_gemma.explain import explanation as explanation_lib
  from lit_gemma.models import lm as lm_lib


def granularity_of(method: str) -> str:
  """The granularity a leave-one-out method removes segments at."""
  return registry.get(method).granularity


def spread(exp: "explanation_lib.Explanation", segments, drops) -> np.ndarray:
  """Per-token scores: each prompt segment's drop over its prompt tokens."""
  out = np.zeros(len(exp.tokens), np.float64)
  for segment, drop in zip(segments, drops):
    end = min(segment.end, exp.prompt_tokens)
    out[segment.start:end] = drop / max(end - segment.start, 1)
  return out


def variants(exp: "explanation_lib.Explanation", method: str
             ) -> tuple[list, list[str]]:
  """(the prompt's segments, the prompts scored: whole, then without each
  segment) of `method`'s map."""
  segments = ablation.prompt_segments(exp, granularity_of(method))
  spans = ablation.char_spans(exp, segments)
  return segments, [exp.prompt] + [ablation.without(exp.prompt, [s])
                                   for s in spans]


def scores(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
           method: str, max_length: int | None = None,
           progress: ablation.Progress | None = None) -> np.ndarray:
  """`method`'s per-token map of `exp` (its target span, its foil)."""
  segments, prompts = variants(exp, method)
  values = ablation.log_likelihoods(lm, exp, prompts, max_length, progress)
  return spread(exp, segments, values[0] - values[1:])
