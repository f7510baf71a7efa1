"""Maps made of forward passes over ablated prompts, by method name:
leave-one-out (leave_one_out.py), fitted ablations (ablation_fit.py) and
greedy deletion (ablation_greedy.py).
What api.py computes and the UI's method groups ask (is a map already a
sum of kept rows?) go through here."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lit_gemma.explain import ablation
from lit_gemma.explain import ablation_fit
from lit_gemma.explain import ablation_greedy
from lit_gemma.explain import leave_one_out
from lit_gemma.explain import registry

if TYPE_CHECKING:
  from lit_gemma.explain import explanation as explanation_lib
  from lit_gemma.models import lm as lm_lib


def _module(method: str):
  if method in registry.GREEDY:
    return ablation_greedy
  return ablation_fit if method in registry.FITTED else leave_one_out


def prompts(exp: "explanation_lib.Explanation", method: str) -> list[str]:
  """Every prompt `method`'s map of `exp` scores (the whole one first; of
  greedy deletion, whose later steps depend on the first, its first)."""
  if method in registry.GREEDY:
    return ablation_greedy.first_prompts(exp, method)
  return _module(method).variants(exp, method)[-1]


def passes(exp: "explanation_lib.Explanation", method: str) -> int:
  """How many forward passes `method`'s map of `exp` takes, none kept."""
  if method in registry.GREEDY:
    return ablation_greedy.passes(len(prompts(exp, method)) - 2)
  return len(set(prompts(exp, method)))


def unscored(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
             method: str) -> int:
  """How many forward passes `method`'s map of `exp` still needs (0: the
  rows are kept, the map is a sum)."""
  if method in registry.GREEDY:
    return ablation_greedy.unscored(lm, exp, method)
  return ablation.unkept(lm, exp, prompts(exp, method))


def scores(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
           method: str, max_length: int | None = None,
           progress: ablation.Progress | None = None) -> np.ndarray:
  """`method`'s per-token map of `exp` (its target span, its foil)."""
  return _module(method).scores(lm, exp, method, max_length, progress)
