"""Salience methods: per-token scores from the gradient g = dL/dE and E.

Registered by name so the engine, the LIT wrapper's output spec and the CLI
agree on one list. Every method maps (g [T, d], E [T, d]) -> scores [T].
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

Method = Callable[[jax.Array, jax.Array], jax.Array]


def grad_l2(grads: jax.Array, embeddings: jax.Array) -> jax.Array:
  """How strongly the loss reacts to each token's embedding (unsigned)."""
  del embeddings
  return jnp.linalg.norm(grads, axis=-1)


def grad_dot_input(grads: jax.Array, embeddings: jax.Array) -> jax.Array:
  """First-order effect of each token's embedding on the loss (signed)."""
  return jnp.sum(grads * embeddings, axis=-1)


METHODS: dict[str, Method] = {
    "grad_l2": grad_l2,
    "grad_dot_input": grad_dot_input,
}

DEFAULT_METHODS: tuple[str, ...] = ("grad_l2", "grad_dot_input")


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
