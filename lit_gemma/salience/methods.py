"""Salience methods: per-token scores from the gradient g = dL/dE and E.

Registered by name, with what each one is (signed or not), so the engine,
the LIT wrapper's output spec, the CLI, the colouring and the deletion test
ask one registry. A token enters the model through one row of each token
table (one table for Gemma 1-3; Gemma 4's E models and Gemma 3n add a
per-layer table), so every method maps a sequence of gradients
(g_k [T, d_k]) and the matching raw rows (E_k [T, d_k]), one pair per
table, to scores [T]: as if the rows of all tables were one concatenated
row. With one table that is the plain definition.
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


@dataclasses.dataclass(frozen=True)
class Method:
  """A registered method: its scores and how to read them.

  Attributes:
    name: the registry key, the LIT field name and the CLI's `--methods`.
    scores: (gradients, embedding rows) -> one score per token.
    signed: scores have a direction (drawn with a diverging colour map; a
      segment the target relies on scores negative, since the engine
      differentiates the loss), else only a magnitude.
  """

  name: str
  scores: Scores
  signed: bool


METHODS: dict[str, Method] = {
    m.name: m for m in (
        Method("grad_l2", grad_l2, signed=False),
        Method("grad_dot_input", grad_dot_input, signed=True),
    )
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
