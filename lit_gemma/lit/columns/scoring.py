"""A LIT model that scores a datapoint's target under the loaded Gemma.

Reviewers of tuning data sort and filter the data table by these columns:

  target_loglik       total log-likelihood of the target given the prompt
  target_mean_loglik  the same per target token (comparable across lengths)
  target_tokens       how many target tokens were scored
  preference_margin   preference pairs only: mean log-likelihood of the
                      chosen response minus the rejected one's (the same on
                      both datapoints of a pair); 0 elsewhere
  ranks_preferred     1 if the model already ranks the chosen response higher
                      (margin > 0), -1 if it ranks the rejected one higher
                      (it disagrees with the label), 0 when there is no
                      pair to rank (not a preference datapoint, or both
                      responses the same): "not a pair" is never read as
                      "disagrees"

so pairs the model gets badly wrong (mislabels, or hard cases worth keeping)
sort to the top; `lit-gemma hygiene` says which margin is low enough to
flag, calibrated for the model (tuning/preferences.py). Every output is a
Scalar: LIT 1.3's data table draws a model's Scalar outputs (and those its
classification and regression interpreters derive) but no CategoryLabel or
Boolean output, so yes/no/none is 1/-1/0. The model is selectable (no `_` prefix): LIT draws columns only for
such models. Preference datapoints carry the other
response as `paired_target` (tuning/sets.py), so each is scored on its own.
Likelihoods are -L of the salience engine's target loss for the same text
(BOS never a target; the target is every token after the prompt's).
"""

from collections.abc import Mapping

import numpy as np
from lit_nlp.api import types as lit_types

from lit_gemma import fields
from lit_gemma.lit.columns import base
from lit_gemma.models import lm as lm_lib
from lit_gemma.tuning.matching import normalise

PROMPT, TARGET = fields.PROMPT, fields.TARGET
PAIRED_TARGET, IS_PREFERRED = fields.PAIRED_TARGET, fields.IS_PREFERRED
OUTPUTS = ("target_loglik", "target_mean_loglik", "target_tokens",
           "preference_margin", "ranks_preferred")


def scoring_name(name: str) -> str:
  """The scoring model's LIT name for model group `name` (selectable)."""
  return f"{name}_scores"


def target_logprobs(lm: lm_lib.GemmaLM, prompt: str,
                    target: str) -> np.ndarray:
  """log p(token_t | tokens_<t) for each target token: the one place that
  computes likelihoods, through the salience engine's forward pass."""
  return lm.score(prompt, target)


class ScoringModel(base.ColumnModel):
  """Target likelihoods and preference margins, one datapoint at a time.

  The store keeps each (prompt, text) score, so the two datapoints of a
  preference pair share theirs."""

  READS = (PAIRED_TARGET, IS_PREFERRED)

  def description(self) -> str:
    source = self.lm.source.spec if self.lm.source else "in-memory model"
    return f"target log-likelihoods under {source}"

  def output_spec(self) -> lit_types.Spec:
    return {name: lit_types.Scalar() for name in OUTPUTS}

  def score(self, prompt: str, target: str) -> tuple[float, float, int]:
    """(total, mean, token count) of the target's log-likelihood."""
    key = (prompt, target)
    found = self.store.get(key)
    if found is None:
      length = len(self.lm.encode(prompt + target))
      if length > self.max_length:
        raise ValueError(f"prompt + target is {length} tokens, over the "
                         f"limit of {self.max_length}")
      logprobs = target_logprobs(self.lm, prompt, target)
      total = float(logprobs.sum())
      mean = total / len(logprobs) if len(logprobs) else 0.0
      found = (total, mean, len(logprobs))
      self.store.put(key, found)
    return found

  def row(self, example: Mapping) -> dict:
    prompt, target = example.get(PROMPT, ""), example.get(TARGET) or ""
    total, mean, count = self.score(prompt, target)
    out = {"target_loglik": total, "target_mean_loglik": mean,
           "target_tokens": count, "preference_margin": 0.0,
           "ranks_preferred": 0}
    paired = example.get(PAIRED_TARGET) or ""
    preferred = str(example.get(IS_PREFERRED, "")).lower()
    if (paired and preferred in ("true", "false")
        and normalise(paired) != normalise(target)):
      other = self.score(prompt, paired)[1]
      margin = mean - other if preferred == "true" else other - mean
      out["preference_margin"] = margin
      out["ranks_preferred"] = 1 if margin > 0 else -1
    return out
