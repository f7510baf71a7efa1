"""A VJP function split into its weights and its kept activations.

The engine keeps the forward pass of recent texts so that a span change runs
the backward pass alone. A kept pass must not hold a second copy of the
weights, and it must feed one compiled span step whatever forward program
made it: this layout is what makes both possible.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax


@dataclasses.dataclass(frozen=True, eq=False)
class VjpLayout:
  """How to rebuild a VJP function from weights and kept activations.

  `jax.vjp` returns a pytree whose leaves are the residuals of the forward
  pass; many of them are the weight arrays themselves. Returning those from
  a jitted function would copy every weight per kept text, so leaves that
  are weights are recorded by position (`param_slots`, -1 for activations)
  and supplied again from the live weights when the VJP is rebuilt.
  Compared by identity: it is a static argument of the compiled span step.
  """

  treedef: Any
  param_slots: tuple[int, ...]
  activation_avals: tuple[tuple[tuple[int, ...], str], ...]

  def rebuild(self, params, activations):
    param_leaves = jax.tree_util.tree_leaves(params)
    acts = iter(activations)
    leaves = [
        param_leaves[slot] if slot >= 0 else next(acts)
        for slot in self.param_slots
    ]
    return jax.tree_util.tree_unflatten(self.treedef, leaves)

  def same_structure(self, other: "VjpLayout") -> bool:
    return (
        self.param_slots == other.param_slots
        and self.activation_avals == other.activation_avals
        and self.treedef.num_leaves == other.treedef.num_leaves
    )
