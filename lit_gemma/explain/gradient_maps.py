"""Maps from gradients beyond the engine's per-click call: contrastive
gradient maps and integrated gradients (plain or contrastive).

Contrast: with a foil, the maps explain log p(target span) - log p(foil)
given the prompt. Its gradient with respect to the prompt's rows is
g_target - g_foil (the two texts share the prompt's tokens; their own
tokens do not line up and score 0), and each gradient method applies its
arithmetic to that difference: contrastive grad_dot_input is the difference
of the two grad_dot_input maps, contrastive grad_l2 the norm of the
difference of the gradients.

Integrated gradients move the prompt's rows (BOS and the target's stay) from
the pad token's rows to their own; the scores add up to the log-likelihood
gained over that padded prompt (`Completeness`), within the quadrature's
error. With a foil both texts move the same prompt rows, so the contrastive
map is the difference of the two maps and adds up to the contrast's gain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from lit_gemma.explain import explanation as explanation_lib
from lit_gemma.salience import methods as salience_methods

if TYPE_CHECKING:
  from lit_gemma.models import lm as lm_lib

IG = "integrated_gradients"


@dataclasses.dataclass(frozen=True)
class Completeness:
  """Sum of integrated-gradient scores against what they should add up to:
  log p(explained | prompt) - log p(explained | padded prompt), minus the
  foil's when contrastive."""

  total: float
  expected: float

  @property
  def gap(self) -> float:
    return self.total - self.expected


def _texts(lm, exp: "explanation_lib.Explanation", max_length):
  """Token ids (with BOS) and full-length target masks: the target's, then
  the foil's (its every token) when there is one."""
  ids = lm.text_ids(exp.prompt, exp.target, max_length)
  texts = [ids]
  masks = [np.concatenate([[0.0], exp.target_mask]).astype(np.float32)]
  if exp.foil:
    foil = lm.text_ids(exp.prompt, exp.foil, max_length)
    shared = exp.prompt_tokens + 1
    if foil[:shared] != ids[:shared] or len(foil) <= shared:
      raise explanation_lib.ExplainError(
          f"the foil {explanation_lib.quoted(exp.foil)} merges with the "
          "prompt's last token (or has no tokens of its own), so its "
          "prompt tokens differ from the target's; start it at a word "
          "boundary")
    mask = np.zeros(len(foil), np.float32)
    mask[shared:] = 1
    texts.append(foil)
    masks.append(mask)
  return texts, masks


def _prompt_rows(exp, texts) -> list[np.ndarray]:
  """1 on each prompt row after BOS, per text (the rows that move)."""
  moving = []
  for ids in texts:
    m = np.zeros(len(ids), np.float32)
    m[1 : exp.prompt_tokens + 1] = 1
    moving.append(m)
  return moving


def _shown(exp, values) -> np.ndarray:
  """Scores over the shown tokens (BOS dropped; the target's tokens 0
  when contrastive, as they do not line up with the foil's)."""
  out = np.asarray(values, np.float64)[1 : len(exp.tokens) + 1].copy()
  if exp.foil:
    out[exp.prompt_tokens:] = 0
  return out


def contrastive(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
                methods: Sequence[str], max_length: int | None = None
                ) -> dict[str, np.ndarray]:
  """Gradient methods' maps of log p(target span) - log p(foil)."""
  texts, masks = _texts(lm, exp, max_length)
  target, foil = lm.path_gradients().gradients(texts, masks)
  shared = exp.prompt_tokens + 1
  grads = [gt[:shared] - gf[:shared]
           for gt, gf in zip(target.grads, foil.grads)]
  rows = [r[:shared] for r in target.rows]
  out = {}
  for name in methods:
    values = np.zeros(len(texts[0]))
    values[:shared] = np.asarray(
        salience_methods.METHODS[name].scores(grads, rows))
    out[name] = _shown(exp, values)
  return out


def integrated_gradients(lm: "lm_lib.GemmaLM",
                         exp: "explanation_lib.Explanation",
                         steps: int | None = None,
                         max_length: int | None = None, progress=None
                         ) -> tuple[np.ndarray, Completeness]:
  """Integrated gradients over the prompt's rows (contrastive with a foil),
  with their completeness."""
  texts, masks = _texts(lm, exp, max_length)
  results = lm.path_gradients().gradients(
      texts, masks, _prompt_rows(exp, texts),
      steps or salience_methods.INTEGRATED_STEPS, progress)
  method = salience_methods.PATH_METHODS[IG]
  maps = [np.asarray(method.scores(r.grads, r.deltas), np.float64)
          for r in results]
  gains = [r.baseline_loss - r.loss for r in results]  # log-likelihood gained
  values, expected = maps[0], gains[0]
  if exp.foil:
    shared = exp.prompt_tokens + 1
    values = np.zeros(len(texts[0]))
    values[:shared] = maps[0][:shared] - maps[1][:shared]
    expected = gains[0] - gains[1]
  shown = _shown(exp, values)
  return shown, Completeness(float(shown.sum()), float(expected))
