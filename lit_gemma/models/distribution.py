"""The `--distribution` setting: weights split across devices (JAX SPMD).

`none` (the default) leaves everything on one device. `model_parallel[:N]`
sets a `keras.distribution.ModelParallel` on a (1, N) device mesh with axes
("batch", "model") (Keras reads the first axis as the batch axis; one
replica keeps every request's batch whole) before any preset loads, so each
weight is created already split as `sharding.py` says. The salience engine
and keras-hub's generation jit-compile over those weights, and `jax.jit`
follows its inputs' shardings: nothing else changes to run on the mesh.

Parsing (`parse`) is cheap and imports nothing, so a front end refuses a bad
value before loading anything; `apply` checks it against the devices JAX
sees (all processes' after `jax.distributed.initialize`).
"""

from __future__ import annotations

import dataclasses

from lit_gemma import errors

NONE = "none"
MODEL_PARALLEL = "model_parallel"
CHOICES = f"{NONE!r}, {MODEL_PARALLEL!r} or '{MODEL_PARALLEL}:N'"


@dataclasses.dataclass(frozen=True)
class Distribution:
  """A parsed `--distribution`: `devices` is None for "every device" and
  0 for none."""

  kind: str = NONE
  devices: int | None = 0

  def __str__(self) -> str:
    if self.kind == NONE:
      return NONE
    return MODEL_PARALLEL + ("" if self.devices is None
                             else f":{self.devices}")


def parse(value: str, where: str = "--distribution") -> Distribution:
  """A `Distribution` from its text; ConfigError (one line) if malformed."""
  text = str(value).strip()
  if text == NONE:
    return Distribution()
  kind, colon, count = text.partition(":")
  if kind != MODEL_PARALLEL:
    raise errors.ConfigError(
        f"{where}={value!r}: expected {CHOICES}")
  if not colon:
    return Distribution(MODEL_PARALLEL, None)
  if not count.isdigit() or int(count) < 1:
    raise errors.ConfigError(
        f"{where}={value!r}: N in '{MODEL_PARALLEL}:N' must be a whole "
        "number of devices, at least 1")
  return Distribution(MODEL_PARALLEL, int(count))


def mesh_size(setting: Distribution, device_count: int,
              where: str = "--distribution") -> int:
  """Devices on the "model" axis; ConfigError unless they fit the host."""
  n = device_count if setting.devices is None else setting.devices
  if n > device_count:
    raise errors.ConfigError(
        f"{where}={setting}: asks for {n} devices but JAX sees "
        f"{device_count}")
  if device_count % n:
    raise errors.ConfigError(
        f"{where}={setting}: {n} does not divide the {device_count} "
        "devices JAX sees")
  return n


def _sharded_model_parallel():
  import keras  # pylint: disable=g-import-not-at-top

  class ShardedModelParallel(keras.distribution.ModelParallel):
    """ModelParallel that replicates any axis the mesh does not divide, so
    one layout map fits every model size (and a 1-KV-head model)."""

    def get_variable_layout(self, variable):
      layout = super().get_variable_layout(variable)
      mesh = self.device_mesh
      sizes = dict(zip(mesh.axis_names, mesh.shape))
      axes = tuple(layout.axes)
      if len(axes) != len(variable.shape):
        return keras.distribution.TensorLayout([None] * len(variable.shape),
                                               mesh)
      fitted = [axis if axis is None or dim % sizes[axis] == 0 else None
                for axis, dim in zip(axes, variable.shape)]
      if list(axes) == fitted:
        return layout
      return keras.distribution.TensorLayout(fitted, mesh)

  return ShardedModelParallel


def build(setting: Distribution, where: str = "--distribution"):
  """The Keras distribution for `setting` (None for "none")."""
  if setting.kind == NONE:
    return None
  import jax  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top

  from lit_gemma.models import sharding as layout_maps  # pylint: disable=g-import-not-at-top

  devices = jax.devices()
  n = mesh_size(setting, len(devices), where)
  mesh = keras.distribution.DeviceMesh(
      shape=(1, n), axis_names=("batch", layout_maps.MODEL),
      devices=devices[:n])
  return _sharded_model_parallel()(
      layout_map=layout_maps.layout_map(mesh), batch_dim_name="batch")


def apply(value: "str | Distribution", where: str = "--distribution"):
  """Sets Keras' global distribution for `value` (a setting or its text)
  before models load; returns what is in force. Unchanged when the same
  setting already is, so front ends may call it each load; "none" clears
  only a distribution set here (a notebook user's own stays)."""
  import keras  # pylint: disable=g-import-not-at-top

  setting = value if isinstance(value, Distribution) else parse(value, where)
  current = keras.distribution.distribution()
  ours = getattr(current, "lit_gemma_setting", None)
  if ours == setting or (setting.kind == NONE and ours is None):
    return current
  built = build(setting, where)
  if built is not None:
    built.lit_gemma_setting = setting
  keras.distribution.set_distribution(built)
  return built


def sharded_weights(backbone) -> list[str]:
  """Paths of `backbone`'s weights split over more than one device."""
  out = []
  for variable in backbone.weights:
    sharding = getattr(variable.value, "sharding", None)
    if sharding is not None and len(sharding.device_set) > 1 and (
        not sharding.is_fully_replicated):
      out.append(variable.path)
  return out
