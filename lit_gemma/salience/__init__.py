"""The JAX sequence-salience engine for keras-hub Gemma 1-4 and Gemma 3n."""

from lit_gemma.salience.engine import SalienceEngine
from lit_gemma.salience.methods import DEFAULT_METHODS, METHODS

__all__ = ["SalienceEngine", "DEFAULT_METHODS", "METHODS"]
