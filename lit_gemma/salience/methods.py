"""Salience methods: per-token scores from the gradient g = dL/dE and E.

Registered by name, with what each one is (signed or not), so the engine,
the LIT wrapper's output spec, the CLI, the colouring and the deletion test
ask one registry. A token enters the model through one row of each token
table (one table for Gemma 1-3; Gemma 4's E models and Gemma 3n add a
per-layer table), so every method maps a sequence of gradients
(g_k [T, d_k]) and the matching raw rows (E_k [T, d_k]), one pair per
table, to scores [T]: as if the rows of all tables were one concatenated
row. With one table that is the plain definition.

Beside them, integrated gradients (integrated.py averages the gradient
along a path; its arithmetic is here). Methods that need no gradient
(leave-one-out ablation) are registered with the same `Method` metadata
in explain/registry.py, the one registry the UI, CLI and explain() ask.
"""

import dataclasses
import functools
import operator
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

Scores = Callable[[Sequence[jax.Array], Sequence[jax.Array]], jax.Array]


def grad_l2(grads: Sequence[jax.Array],
            embeddings: Sequence[jax.Array]) -> jax.Array:
  """How strongly the loss reacts to each token's rows (unsigned)."""
  del embeddings
  return jnp.linalg.norm(jnp.concatenate(list(grads), axis=-1), axis=-1)


def grad_dot_input(grads: Sequence[jax.Array],
                   embeddings: Sequence[jax.Array]) -> jax.Array:
  """First-order effect of each token's rows on the loss (signed)."""
  return functools.reduce(operator.add, [
      jnp.sum(g * e, axis=-1) for g, e in zip(grads, embeddings, strict=True)
  ])


def integrated_gradients(grads: Sequence[jax.Array],
                         deltas: Sequence[jax.Array]) -> jax.Array:
  """Path-averaged gradient . (rows - baseline), of the log-likelihood
  (minus the loss's), so a token the target relies on scores positive."""
  return -grad_dot_input(grads, deltas)


# Kinds of method: what computing a map takes.
GRADIENT = "gradient"  # one gradient per click (engine.py)
PATH = "path"  # gradients at several points of a path (integrated.py)
ABLATION = "ablation"  # forward passes only (explain/leave_one_out.py)
TOKEN = "token"  # granularity of per-token maps: any, by summing tokens


@dataclasses.dataclass(frozen=True)
class Method:
  """A registered method: its scores and how to read them.

  Attributes:
    name: the registry key, the LIT field name and the CLI's `--methods`.
    scores: (gradients, rows) -> one score per token; None for methods
      computed without the engine's gradient (see `kind`).
    signed: scores have a direction, else only a magnitude.
    kind: GRADIENT, PATH or ABLATION.
    granularity: TOKEN (token scores the UI sums into words, sentences,
      ...) or the one granularity whose segments the scores belong to (a
      segment's score spread evenly over its tokens).
    cost: what one map costs, in passes over the text.
    support_sign: the sign of a score that says "the target relies on
      this": +1, or -1 for `grad_dot_input`, which keeps LIT's sign (the
      engine differentiates the target's loss).
    description: one line for listings.
  """

  name: str
  scores: Scores | None
  signed: bool
  kind: str = GRADIENT
  granularity: str = TOKEN
  cost: str = ("1 forward + 1 backward pass; a new span of a kept text: "
               "the backward pass")
  support_sign: int = 1
  description: str = ""


METHODS: dict[str, Method] = {
    m.name: m for m in (
        Method("grad_l2", grad_l2, signed=False,
               description="how strongly the target's loss reacts to each "
               "token (|dL/dE|)"),
        Method("grad_dot_input", grad_dot_input, signed=True,
               support_sign=-1,
               description="first-order effect of each token on the "
               "target's loss (dL/dE . E; negative: the target relies on "
               "it)"),
    )
}

INTEGRATED_STEPS = 16  # quadrature nodes (integrated.DEFAULT_STEPS)
# Computed by integrated.py, never by the engine's per-click call.
PATH_METHODS: dict[str, Method] = {
    "integrated_gradients": Method(
        "integrated_gradients", integrated_gradients, signed=True,
        kind=PATH,
        cost=f"{INTEGRATED_STEPS} forward + backward passes (one per "
        "quadrature node) per span",
        description="gradients averaged from pad-token rows to the "
        "prompt's rows, times the difference; they add up to the "
        "log-likelihood gained over the padded prompt"),
}

# What the engine computes unless told otherwise, and the map shown first
# (the UI's first method button, the CLI's and explain()'s default).
DEFAULT_METHODS: tuple[str, ...] = ("grad_l2", "grad_dot_input")
DEFAULT_METHOD = DEFAULT_METHODS[0]


def is_signed(name: str) -> bool:
  """Whether `name`'s scores have a direction (unknown names: no)."""
  return name in METHODS and METHODS[name].signed


def check_names(names) -> tuple[str, ...]:
  """Returns `names` as a tuple, or raises naming the unknown ones."""
  names = tuple(names)
  unknown = [n for n in names if n not in METHODS]
  if unknown or not names:
    raise ValueError(
        f"unknown salience method(s) {unknown or names}; "
        f"known: {sorted(METHODS)}"
    )
  return names
