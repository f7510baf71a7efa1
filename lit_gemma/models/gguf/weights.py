"""GGUF tensors onto a keras-hub backbone, through a family's tensor table.

Why this module exists: a family describes its tensors as data (GGUF name
-> shape, backbone variable, layout change); this module checks a file
against that table before anything is built, and afterwards assigns every
tensor, refusing a file with tensors left over, missing, misshapen, or
variables left unset. The layout changes llama.cpp files need (transposes,
head splits, the RMSNorm offset) live here so families share them.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable

import numpy as np

from lit_gemma.models.gguf import reader

Transform = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Tensor:
  """One GGUF tensor a family expects.

  Attributes:
    shape: numpy shape in llama.cpp's row-major (out, in) layout.
    variable: where it goes, as attribute names and list indices from the
      backbone, dot-separated ("transformer_layers.3.attention.query_dense.
      kernel"); None for a tensor llama.cpp may write but the model never
      reads (such as K/V of Gemma 4's K/V-sharing layers): it may be absent,
      and is checked for shape but not loaded. A tuple names several
      variables one fused tensor fills (Gemma 4's `ffn_gate_up_exps`); the
      transform then returns one array per variable, in that order.
    transform: llama.cpp layout -> the variable's layout.
    fill: for a tensor llama.cpp leaves out when it holds only this value
      (per-expert scales of 1): it may be absent, and then the variable is
      filled with it.
  """

  shape: tuple[int, ...]
  variable: str | tuple[str, ...] | None
  transform: Transform
  fill: float | None = None


def same(w: np.ndarray) -> np.ndarray:
  return w


def transpose(w: np.ndarray) -> np.ndarray:
  # (out, in) -> EinsumDense "btd,df" kernel (in, out).
  return w.T


def heads_in(num_heads: int, head_dim: int) -> Transform:
  # (heads*head_dim, hidden) -> EinsumDense "btd,ndh" kernel (n, d, h).
  def f(w: np.ndarray) -> np.ndarray:
    return w.reshape(num_heads, head_dim, -1).transpose(0, 2, 1)
  return f


def heads_out(num_heads: int, head_dim: int) -> Transform:
  # (hidden, heads*head_dim) -> EinsumDense "btnh,nhd" kernel (n, h, d).
  def f(w: np.ndarray) -> np.ndarray:
    return w.T.reshape(num_heads, head_dim, -1)
  return f


def norm_offset(offset: float) -> Transform:
  """An RMSNorm weight stored with `offset` added (llama.cpp adds 1 to
  Gemma's, whose keras-hub norm computes x * (1 + scale))."""
  if offset == 0:
    return same

  def f(w: np.ndarray) -> np.ndarray:
    return w - offset
  return f


def check(tensors, table: dict[str, Tensor], family: str,
          path: pathlib.Path) -> None:
  """Refuses files whose tensors do not match the table one to one."""
  found = {t.name: reader.shape(t) for t in tensors}
  unused = [n for n in found if n not in table]
  if unused:
    more = f" and {len(unused) - 3} more" if len(unused) > 3 else ""
    raise reader.fail(path, f"tensors that keras-hub's {family} has no place "
                      f"for: {', '.join(unused[:3])}{more}")
  missing = [n for n, spec in table.items() if n not in found
             and spec.variable is not None and spec.fill is None]
  if missing:
    raise reader.fail(path, f"tensor {missing[0]} is missing "
                      f"({len(missing)} missing in all)")
  for name, spec in table.items():
    if name in found and found[name] != spec.shape:
      raise reader.fail(path, f"tensor {name} has shape {list(found[name])} "
                        f"but the metadata implies {list(spec.shape)}")


def variable(backbone, where: str) -> Any:
  """The backbone variable a `Tensor.variable` names."""
  obj = backbone
  for part in where.split("."):
    obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
  return obj


def load(tensors, backbone, table: dict[str, Tensor], path: pathlib.Path,
         step: Callable[[str], None]) -> None:
  """Assigns every tensor (after `check`); refuses unset variables."""
  by_name = {t.name: t for t in tensors}
  if not set(by_name) <= set(table):  # `check` ran first.
    raise reader.fail(path, "internal error: tensor names and targets differ")
  assigned = set()
  for name, t in by_name.items():
    spec = table[name]
    if spec.variable is None:  # Written by llama.cpp, never read.
      step(f"tensor {name} (unused)")
      continue
    value = spec.transform(reader.dequantize(t))
    _assign(backbone, spec.variable, value, name, path, assigned)
    step(f"tensor {name} ({t.tensor_type.name})")
  for name, spec in table.items():
    if name not in by_name and spec.fill is not None:
      var = variable(backbone, spec.variable)
      _assign(backbone, spec.variable, np.full(var.shape, spec.fill,
                                               "float32"), name, path,
              assigned)
      step(f"tensor {name} (absent: {spec.fill})")
  unset = [v.path for v in backbone.weights if id(v) not in assigned]
  if unset:
    raise reader.fail(path, "backbone variables left unset: "
                      f"{', '.join(unset[:3])}")


def _assign(backbone, where, value, name: str, path: pathlib.Path,
            assigned: set) -> None:
  """Assigns one array, or (for a fused tensor) one per named variable."""
  pairs = (zip(where, value) if isinstance(where, tuple)
           else [(where, value)])
  for one, array in pairs:
    var = variable(backbone, one)
    if tuple(array.shape) != tuple(var.shape):
      raise reader.fail(path, f"internal error: tensor {name} maps to shape "
                        f"{list(array.shape)}, variable {var.path} is "
                        f"{list(var.shape)}")
    var.assign(array)
    assigned.add(id(var))
