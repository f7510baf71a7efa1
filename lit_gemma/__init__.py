"""lit-gemma: prompt debugging for Gemma models in LIT, with salience on JAX.

Keras reads its backend once, at first import, so this is the one place that
chooses it: importing any part of lit_gemma selects JAX.
"""

import os

_BACKEND = "jax"
if os.environ.get("KERAS_BACKEND", _BACKEND) != _BACKEND:
  raise ImportError(
      f"lit-gemma runs Keras on JAX, but KERAS_BACKEND="
      f"{os.environ['KERAS_BACKEND']!r} is set; unset it or set it to 'jax'."
  )
os.environ["KERAS_BACKEND"] = _BACKEND
# TensorFlow is only used by keras-hub's tokenizers: keep it quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
