"""LoRA adapters on a loaded Gemma, and the tuned model saved as a plain
keras-hub preset folder.

keras-hub's `Backbone.enable_lora(rank)` puts rank-r adapters on the query
and value projections (`default_lora_layer_names()`), but it also freezes
every other layer, and the salience engine's forward pass (which tuning
runs, salience/forward.py) finds the token table among the trainable
variables. So the same layers get Keras' own `EinsumDense.enable_lora`
here, one by one, and the rest keep their flags; only the adapters are
differentiated (`positions`). Each adapter starts as a zero update (its B
matrix is zeros), so step 0 is the starting model.

Saving merges the adapters into the kernels (Keras' `EinsumDense` saves
`kernel + (alpha / r) A B`) and writes the tokenizer beside them
(models/keras_tasks.py), so the folder loads as a plain preset, as any
source (`--models=after:FOLDER`), and the salience engine reads its
weights as they are: serve the folder, not the in-memory LoRA model.
"""

from __future__ import annotations

import os

import jax
import keras

from lit_gemma import errors
from lit_gemma.models import keras_tasks

DEFAULT_RANK = 8
_LORA = "lora_kernel"


def enable(backbone, rank: int = DEFAULT_RANK, seed: int = 0) -> list:
  """Adds rank-`rank` adapters to the layers keras-hub's `enable_lora`
  targets (A drawn as Keras draws it, seeded, so a run repeats; B zeros);
  returns the adapter variables (A and B of each layer)."""
  if rank < 1:
    raise errors.ConfigError(f"--rank must be >= 1, got {rank}")
  names = set(backbone.default_lora_layer_names())
  # The walk keras-hub's enable_lora does (Keras has no public one).
  layers = backbone._flatten_layers(include_self=False)  # pylint: disable=protected-access
  found = 0
  for layer in layers:
    if layer.name in names and hasattr(layer, "enable_lora") and layer.weights:
      if not getattr(layer, "lora_enabled", False):
        layer.enable_lora(rank, a_initializer=keras.initializers.HeUniform(
            seed=seed + found))
      found += 1
  if not found:
    raise errors.ConfigError(
        f"{type(backbone).__name__} has no layer named "
        f"{sorted(names)} to put LoRA adapters on")
  return adapters(backbone)


def adapters(backbone) -> list:
  """The LoRA variables of `backbone`, in a fixed order."""
  return [v for v in backbone.trainable_variables if _LORA in v.path]


def positions(tree, variables) -> list[int]:
  """Where each of `variables` sits among the leaves of `tree` (the
  forward pass's params, whose leaves are the variables' own arrays)."""
  leaves = jax.tree_util.tree_leaves(tree)
  where = {id(leaf): i for i, leaf in enumerate(leaves)}
  found = [where.get(id(v.value)) for v in variables]
  if None in found:
    raise RuntimeError("the forward pass's params do not hold the LoRA "
                       "adapters: build the model's engine before tuning")
  return found


def with_values(tree, at: list[int], values):
  """`tree` with the leaves at `at` replaced by `values`."""
  leaves, structure = jax.tree_util.tree_flatten(tree)
  leaves = list(leaves)
  for i, value in zip(at, values):
    leaves[i] = value
  return jax.tree_util.tree_unflatten(structure, leaves)


def assign(variables, values) -> None:
  for variable, value in zip(variables, values):
    variable.assign(value)


def save(causal_lm, folder: str) -> str:
  """Saves the tuned model (adapters merged) and its tokenizer as a
  keras-hub preset folder; refuses a folder that is not empty."""
  folder = os.fspath(folder)
  if os.path.exists(folder) and (not os.path.isdir(folder)
                                 or os.listdir(folder)):
    raise errors.ConfigError(f"--out {folder}: exists and is not an empty "
                             "folder (the tuned preset needs a new one)")
  os.makedirs(folder, exist_ok=True)
  keras_tasks.save_preset(causal_lm, folder)
  return folder
