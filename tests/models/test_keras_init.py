"""The one Keras override (models/keras_init.py) is still there, in the
version it was written for, and only lasts as long as its block."""

import importlib.metadata

import pytest

from lit_gemma.models import keras_init


@pytest.mark.parametrize("distribution", sorted(keras_init.VERSIONS))
def test_installed_versions_are_the_ones_written_for(distribution):
  assert importlib.metadata.version(distribution) == (
      keras_init.VERSIONS[distribution]), (
          f"{distribution} changed: re-check models/keras_init.py, then "
          f"update keras_init.VERSIONS")


def test_random_init_is_skipped_inside_the_block_only():
  import keras  # pylint: disable=g-import-not-at-top

  init = keras.initializers.GlorotUniform(seed=1)
  with keras_init.skipping_random_init():
    assert float(keras.ops.max(keras.ops.abs(init((4, 4))))) == 0.0
  assert float(keras.ops.max(keras.ops.abs(init((4, 4))))) > 0.0
