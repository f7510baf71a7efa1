"""Leave-one-out maps on a tiny random Gemma 3: each segment's share adds up
to the drop in the target's log-likelihood when the segment is removed,
taken here through keras-hub's own backbone (a full forward pass on token
ids), within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from backbone_reference import backbone_log_probs
from lit_gemma import explain
from lit_gemma.explain import ablation

PROMPT = "Water is made of hydrogen. The capital of France is"
TARGET = " Paris and Rome."



def _loglik(lm, prompt: str, continuation: str, span=None) -> float:
  """log p(continuation's tokens [span] | prompt), one full forward pass
  through the backbone (independent of the engine and its batching)."""
  ids = lm.encode(prompt + continuation)
  first = len(lm.encode(prompt))
  values = backbone_log_probs(lm.causal_lm, ids).astype(np.float64)
  picked = values[first - 1:]
  if span is not None:
    picked = picked[span[0]:span[1]]
  return float(picked.sum())


@pytest.mark.parametrize("granularity", ["word", "sentence"])
def test_a_segments_scores_add_up_to_its_drop(lm, granularity):
  method = f"loo_{granularity}"
  exp = explain.explain(lm, PROMPT, TARGET, span=(1, 3), methods=[method])
  segments = [s for s in exp.segments(granularity, method)
              if s.part == "prompt"]
  assert len(segments) == (10 if granularity == "word" else 2)
  spans = ablation.char_spans(exp, segments)
  base = _loglik(lm, PROMPT, TARGET, (1, 3))
  for segment, span in zip(segments, spans):
    cut = ablation.without(PROMPT, [span])
    assert segment.score == pytest.approx(
        base - _loglik(lm, cut, TARGET, (1, 3)), abs=1e-5), segment.text
    # (the last segment may run on into the target, whose tokens score 0)
    tokens = exp.scores[method][segment.start:min(segment.end,
                                                  exp.prompt_tokens)]
    np.testing.assert_allclose(tokens, tokens[0], rtol=1e-6)  # spread evenly
  assert not exp.scores[method][exp.prompt_tokens:].any()


def test_contrastive_drops_and_a_new_span_costs_no_forward_pass(lm):
  foil = " Rome and Paris."
  exp = explain.explain(lm, PROMPT, TARGET, foil=foil, methods=["loo_word"])
  segments = [s for s in exp.segments("word", "loo_word")
              if s.part == "prompt"]
  spans = ablation.char_spans(exp, segments)
  contrast = lambda p: _loglik(lm, p, TARGET) - _loglik(lm, p, foil)
  for segment, span in list(zip(segments, spans))[::3]:
    cut = ablation.without(PROMPT, [span])
    assert segment.score == pytest.approx(contrast(PROMPT) - contrast(cut),
                                          abs=1e-5), segment.text
  kept = len(ablation.rows_of(lm))
  calls = []
  original = lm.score_batch
  lm.score_batch = lambda *a, **k: calls.append(a) or original(*a, **k)
  try:
    other = explain.explain(lm, PROMPT, TARGET, span=" Rome",
                            methods=["loo_word"])
  finally:
    del lm.score_batch
  assert not calls and len(ablation.rows_of(lm)) == kept
  assert other.scores["loo_word"].any()
