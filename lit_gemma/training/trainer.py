"""LoRA tuning of a loaded Gemma on JAX: supervised (SFT) or preference
(DPO) steps through the salience engine's own forward pass, a progress bar
with the loss, and the held-out figures before and after.

The forward pass is the engine's (salience/forward.py): the backbone's own
keras-hub layers run statelessly, so the weights are explicit arguments
and only the LoRA adapters are differentiated (lora.py); the vocabulary is
projected at target positions only (objectives.py). No TensorFlow, no
keras-hub preprocessor: token ids come from the model's own SentencePiece.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence

import jax
import numpy as np
import tqdm

from lit_gemma.training import batches as batches_lib
from lit_gemma.training import lora
from lit_gemma.training import objectives


@dataclasses.dataclass(frozen=True)
class Settings:
  """How a run tunes.

  Attributes:
    rank: LoRA rank of the query and value adapters.
    learning_rate: Adam's step size.
    epochs: passes over the training examples.
    batch_size: examples (SFT) or pairs (DPO) per step.
    beta: DPO's inverse temperature (how far from the starting model).
    seed: draws the adapters' first values and the order of batches.
    max_length: most tokens of prompt + response.
  """

  rank: int = lora.DEFAULT_RANK
  learning_rate: float = 1e-3
  epochs: int = 2
  batch_size: int = 4
  beta: float = 0.1
  seed: int = 0
  max_length: int | None = 1024


@dataclasses.dataclass
class Outcome:
  """What a run did: steps, seconds, the loss of each step, and the
  held-out figures before and after (SFT: `loss`, mean negative
  log-likelihood per token; DPO: `loss` and `margin`, the mean summed
  log-likelihood of the chosen minus the rejected response)."""

  preference: bool
  steps: int = 0
  seconds: float = 0.0
  losses: list[float] = dataclasses.field(default_factory=list)
  held_out_before: dict[str, float] = dataclasses.field(default_factory=dict)
  held_out_after: dict[str, float] = dataclasses.field(default_factory=dict)
  held_out: int = 0
  train: int = 0


class _Run:
  """The compiled steps of one run over `lm` with LoRA enabled."""

  def __init__(self, lm, settings: Settings):
    self.lm, self.settings = lm, settings
    self.variables = lora.enable(lm.causal_lm.backbone, settings.rank,
                                 settings.seed)
    self.forward = lm.engine.forward
    self.params = self.forward.params()
    self.at = lora.positions(self.params, self.variables)
    self.start = [v.value for v in self.variables]
    forward, at = self.forward, self.at

    def sft(values, params, batch):
      return objectives.sft_loss(forward, lora.with_values(params, at, values),
                                 batch)

    def dpo(values, params, batch, reference):
      return objectives.dpo_loss(forward, lora.with_values(params, at, values),
                                 batch, reference, settings.beta)

    def sequences(values, params, batch):
      return objectives.sequence_log_probs(
          forward, lora.with_values(params, at, values), batch)

    def step(loss_fn):
      def update(values, opt, params, *args):
        loss, grads = jax.value_and_grad(loss_fn)(values, params, *args)
        values, opt = objectives.adam_update(values, grads, opt,
                                             settings.learning_rate)
        return values, opt, loss
      return jax.jit(update)

    self.sft_step, self.dpo_step = step(sft), step(dpo)
    self.sequences = jax.jit(sequences)

  def held_out_sft(self, values, held: Sequence[batches_lib.Batch]) -> dict:
    nll = count = 0.0
    for batch in held:
      lp = np.asarray(self.sequences(values, self.params, batch))
      nll -= float(lp.sum())
      count += float(batch.valid.sum())
    return {"loss": nll / count if count else math.nan}

  def held_out_dpo(self, values, held, references) -> dict:
    losses, margins, pairs = [], [], 0
    for batch, reference in zip(held, references):
      lp = self.sequences(values, self.params, batch)
      half = batch.valid.shape[0] // 2
      pair_valid = (batch.valid.sum(-1)[:half] > 0).astype(np.float32)
      n = float(pair_valid.sum())
      loss, _ = objectives.dpo_terms(lp, reference, pair_valid,
                                     self.settings.beta)
      lp = np.asarray(lp)
      margins.append(float(((lp[:half] - lp[half:]) * pair_valid).sum()))
      losses.append(float(loss) * n)
      pairs += n
    return {"loss": sum(losses) / pairs if pairs else math.nan,
            "margin": sum(margins) / pairs if pairs else math.nan}


def tune(lm, train: Sequence, held_out: Sequence, settings: Settings,
         preference: bool = False, progress: bool = True) -> Outcome:
  """Tunes `lm` in place (LoRA adapters on its backbone) on `train`
  (batches.Sft, or batches.Preference with `preference`); the held-out
  examples are measured before and after, never trained on."""
  make = (batches_lib.preference_batches if preference
          else batches_lib.sft_batches)
  size, length = settings.batch_size, settings.max_length
  train_batches = make(lm, list(train), size, length)
  held_batches = make(lm, list(held_out), size, length) if held_out else []
  run = _Run(lm, settings)
  values = list(run.start)
  outcome = Outcome(preference, train=len(train), held_out=len(held_out))
  references = held_refs = None
  if preference:  # the frozen starting model's log-likelihoods
    references = [run.sequences(values, run.params, b) for b in train_batches]
    held_refs = [run.sequences(values, run.params, b) for b in held_batches]
  measure = ((lambda v: run.held_out_dpo(v, held_batches, held_refs))
             if preference else (lambda v: run.held_out_sft(v, held_batches)))
  if held_batches:
    outcome.held_out_before = measure(values)
  opt = objectives.adam_init(values)
  rng = np.random.default_rng(settings.seed)
  total = settings.epochs * len(train_batches)
  began = time.monotonic()
  bar = tqdm.tqdm(total=total, desc="tune", unit="step", disable=not progress)
  try:
    for _ in range(settings.epochs):
      for i in rng.permutation(len(train_batches)):
        if preference:
          values, opt, loss = run.dpo_step(values, opt, run.params,
                                           train_batches[i], references[i])
        else:
          values, opt, loss = run.sft_step(values, opt, run.params,
                                           train_batches[i])
        outcome.losses.append(float(loss))
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss):.4f}")
  finally:
    bar.close()
  outcome.steps, outcome.seconds = total, time.monotonic() - began
  lora.assign(run.variables, values)
  if held_batches:
    outcome.held_out_after = measure(values)
  return outcome
