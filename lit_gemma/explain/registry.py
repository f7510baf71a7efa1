"""Every attribution method by name, with what it is: the one registry the
UI's model groups, the CLI and explain() ask (as Inseq's is).

- gradient maps, one gradient per click (salience/methods.py): `grad_l2`,
  `grad_dot_input`;
- integrated gradients, a path of gradients (salience/integrated.py):
  `integrated_gradients`;
- leave-one-out ablation, forward passes only (leave_one_out.py), one
  method per granularity: `loo_word`, `loo_sentence`, `loo_line`. A
  segment's drop in the target's log-likelihood is spread evenly over its
  tokens, so the UI's sum at that granularity is the drop itself;
- fitted ablations, forward passes only (ablation_fit.py), one method per
  granularity: `fit_word`, `fit_sentence`, `fit_line`: a linear model of
  the target's log-likelihood over random removals and single ones;
- greedy deletion, forward passes only (ablation_greedy.py), one method
  per granularity: `greedy_word`, `greedy_sentence`, `greedy_line`: the
  segments in the order that removing them hurts the target most.

Every method is defined with a foil too (contrastive maps, api.py): it then
explains log p(target span) - log p(foil) over the prompt's tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from lit_gemma import errors
from lit_gemma.salience import methods as salience_methods

Method = salience_methods.Method
GRADIENT, PATH, ABLATION = (salience_methods.GRADIENT, salience_methods.PATH,
                            salience_methods.ABLATION)
LOO_GRANULARITIES = ("word", "sentence", "line")


def _per_granularity(prefix, cost, description) -> dict[str, Method]:
  """One ablation method for each granularity `g`: prefix + g, cost(g) ..."""
  return {prefix + g: Method(prefix + g, None, signed=True, kind=ABLATION,
                             granularity=g, cost=cost(g),
                             description=description(g))
          for g in LOO_GRANULARITIES}


LEAVE_ONE_OUT: dict[str, Method] = _per_granularity(
    "loo_",
    lambda g: f"1 forward pass per {g} of the prompt (every target token "
    "scored once, so another span of the same text is a sum)",
    lambda g: f"drop of the target's log-likelihood when each {g} is "
    "removed, spread over its tokens")

FIT_SAMPLES = 32  # random removals fitted (ablation_fit.py), besides singles
FITTED: dict[str, Method] = _per_granularity(
    "fit_",
    lambda g: f"1 + {FIT_SAMPLES} forward passes + 1 per {g} of the prompt "
    f"(fewer with at most 5 {g}s: one per distinct set removed; every "
    "target token scored once, so another span of the same text is a sum)",
    lambda g: f"weight of each {g} in a linear fit of the target's "
    f"log-likelihood over {FIT_SAMPLES} random halves of the prompt's {g}s "
    "removed and each removed alone (as ContextCite)")

# 48 segments: 1177 forward passes, ~4 min at 512 tokens on 2 cores.
GREEDY_MAX_SEGMENTS = 48
GREEDY: dict[str, Method] = _per_granularity(
    "greedy_",
    lambda g: f"n(n+1)/2 + 1 forward passes for n {g}s, at most "
    f"{GREEDY_MAX_SEGMENTS} (one batch per step; another span of the same "
    "text scores new variants only where its path turns elsewhere)",
    lambda g: f"greedy deletion: each {g}'s drop in the target's "
    f"log-likelihood when it is removed, the {g} whose removal hurts most "
    "first, then with those removed (pooled to fall in that order; they "
    "add up to the whole prompt's effect)")

METHODS: dict[str, Method] = (salience_methods.METHODS
                              | salience_methods.PATH_METHODS
                              | LEAVE_ONE_OUT | FITTED | GREEDY)
# The map shown first (the UI's first method button, the CLI's and
# explain()'s default) and the methods computed unless others are asked for.
DEFAULT_METHOD = salience_methods.DEFAULT_METHOD
DEFAULT_METHODS = salience_methods.DEFAULT_METHODS


class MethodError(errors.UserError):
  """An unknown method name; the message lists the known ones."""


def get(name: str) -> Method:
  if name not in METHODS:
    raise MethodError(f"unknown salience method {name!r}; known: "
                      f"{', '.join(METHODS)}")
  return METHODS[name]


def check_names(names: Iterable[str]) -> tuple[str, ...]:
  """`names` as a tuple, or MethodError naming the unknown ones."""
  names = tuple(names)
  unknown = [n for n in names if n not in METHODS]
  if unknown or not names:
    raise MethodError(f"unknown salience method(s) {unknown or list(names)};"
                      f" known: {', '.join(METHODS)}")
  return names


def is_signed(name: str) -> bool:
  """Whether `name`'s scores have a direction (unknown names: no)."""
  return name in METHODS and METHODS[name].signed


def importance(name: str, scores) -> np.ndarray:
  """Scores turned so that larger means the target relies on it more (an
  unsigned method's scores as they are)."""
  scores = np.asarray(scores, np.float64)
  method = get(name)
  return scores * method.support_sign if method.signed else scores


def of_kind(kind: str, names: Iterable[str]) -> tuple[str, ...]:
  return tuple(n for n in names if get(n).kind == kind)
