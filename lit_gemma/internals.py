"""Every place lit-gemma reaches into LIT's or Keras' internals, in one file.

Written for lit-nlp 1.3.1 and keras 3.15.1 (`VERSIONS`); tests/test_internals.py
fails when an installed version differs or an attribute used here is gone,
so an upgrade starts by reading this file. What is reached into:
  - LIT's private endpoint methods (`_create_model`, `_create_dataset`,
    `_save_datapoints`, `_load_datapoints`): `LitAppHooks` routes them to
    public hook methods that `lit_app.LitGemmaApp` implements;
  - LIT's handler table (`_wsgi_app._handlers`), to tell endpoints from
    static files;
  - LIT's prediction cache (`CachingModelWrapper._cache`): each wrapper's
    cache is replaced by one whose lock table is guarded (`LockedPredsCache`);
  - where LIT keeps its built client (`client_root`);
  - Keras' `VarianceScaling.__call__`, patched process-wide while a preset
    loads, so that keras-hub's random initial fill is skipped.
"""

from __future__ import annotations

import contextlib
import pathlib
import threading
from collections.abc import Iterator

import lit_nlp
from lit_nlp import app as lit_app
from lit_nlp.lib import caching as lit_caching

# Distribution name -> the version this module was written for.
VERSIONS = {"lit-nlp": "1.3.1", "keras": "3.15.1"}
# The private LitApp methods `LitAppHooks` overrides.
LIT_ENDPOINT_METHODS = ("_create_model", "_create_dataset",
                        "_save_datapoints", "_load_datapoints")


def lit_client_root() -> str:
  """The folder of LIT's built web client (LIT's own --client_root default)."""
  return str(pathlib.Path(lit_nlp.__file__).parent / "client" / "build"
             / "default")


class LockedPredsCache(lit_caching.PredsCache):
  """LIT's prediction cache, with its table of prediction locks guarded.

  In lit-nlp 1.3.1 `pred_lock_key` iterates that table while other request
  threads add and remove entries (RuntimeError: dictionary changed size
  during iteration) and two threads can create two locks for the same
  inputs. Results stay correct either way (the model serializes its own
  work); this keeps concurrent requests from failing.
  """

  def pred_lock_key(self, keys):
    with self.lock:
      return super().pred_lock_key(keys)

  def get_pred_lock(self, keys):
    with self.lock:
      return super().get_pred_lock(keys)

  def delete_pred_lock(self, keys):
    with self.lock:
      return super().delete_pred_lock(keys)


class LitAppHooks(lit_app.LitApp):
  """LIT's app with its private internals behind public hooks.

  Subclasses implement `refuse_model_loading`, `check_dataset_loading` and
  `datapoints_path`; nothing outside this module names a private member of
  LIT.
  """

  def __init__(self, *args, **kw):
    super().__init__(*args, **kw)
    for name, wrapper in self._models.items():
      # A new, empty cache of the guarded kind (LIT's is empty at start:
      # lit-gemma never gives LIT a data_dir to load one from).
      wrapper._cache = LockedPredsCache(  # pylint: disable=protected-access
          name, wrapper.wrapped.supports_concurrent_predictions, None)

  # Hooks for subclasses.

  def refuse_model_loading(self) -> None:
    """Called for /create_model; raise to refuse it."""

  def check_dataset_loading(self) -> None:
    """Called before /create_dataset; raise to refuse it."""

  def datapoints_path(self, endpoint: str, path: str | None) -> str | None:
    """The file /save_datapoints or /load_datapoints may use for `path`."""
    return path

  @property
  def handler_paths(self) -> frozenset[str]:
    """The paths LIT answers as endpoints (everything else: static files)."""
    return frozenset(self._wsgi_app._handlers)  # pylint: disable=protected-access

  # LIT's private endpoint methods, routed to the hooks.

  def _create_model(self, *args, **kw):
    self.refuse_model_loading()
    return super()._create_model(*args, **kw)

  def _create_dataset(self, *args, **kw):
    self.check_dataset_loading()
    return super()._create_dataset(*args, **kw)

  def _save_datapoints(self, data, dataset_name=None, path=None, **kw):
    return super()._save_datapoints(
        data, dataset_name=dataset_name,
        path=self.datapoints_path("/save_datapoints", path), **kw)

  def _load_datapoints(self, data, dataset_name=None, path=None, **kw):
    return super()._load_datapoints(
        data, dataset_name=dataset_name,
        path=self.datapoints_path("/load_datapoints", path), **kw)


_INIT_LOCK = threading.Lock()


@contextlib.contextmanager
def skipping_random_init() -> Iterator[None]:
  """Keras' random initializers yield zeros inside this block.

  keras-hub builds every layer with random weights and then loads the preset
  over them; for Gemma's 262k-row embedding the random draws are about half
  of a warm load on CPU. Gemma only uses the VarianceScaling family (Glorot
  included). Loading still fails if the preset lacks any weight, so a zero
  never survives into a loaded model. Process-wide while it lasts: loads are
  serialized by a lock.
  """
  import keras  # pylint: disable=g-import-not-at-top  (seconds; only here)

  cls = keras.initializers.VarianceScaling
  with _INIT_LOCK:
    original = cls.__call__
    cls.__call__ = lambda self, shape, dtype=None: keras.ops.zeros(
        shape, dtype=dtype)
    try:
      yield
    finally:
      cls.__call__ = original
