"""lit-gemma: prompt debugging for Gemma models in LIT, with salience on JAX.

Keras reads its backend once, at first import, so this is the one place that
chooses it: importing any part of lit_gemma selects JAX. It is also where
TensorFlow is kept out of keras-hub's and LIT's way (tensorflow_guard.py).
"""

import os

from lit_gemma import tensorflow_guard

_BACKEND = "jax"
if os.environ.get("KERAS_BACKEND", _BACKEND) != _BACKEND:
  raise ImportError(
      f"lit-gemma runs Keras on JAX, but KERAS_BACKEND="
      f"{os.environ['KERAS_BACKEND']!r} is set; unset it or set it to 'jax'."
  )
os.environ["KERAS_BACKEND"] = _BACKEND
# XLA's C++ logging (TensorFlow's, shared with jaxlib): keep it quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tensorflow_guard.install()
