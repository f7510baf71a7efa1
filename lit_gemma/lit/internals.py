"""Every place lit-gemma reaches into LIT's internals, in one file.

Written for lit-nlp 1.3.1 (`VERSIONS`); tests/lit/test_internals.py
fails when an installed version differs or an attribute used here is gone,
so an upgrade starts by reading this file. What is reached into:
  - LIT's private endpoint methods (`_create_model`, `_create_dataset`,
    `_save_datapoints`, `_load_datapoints`): `LitAppHooks` routes them to
    public hook methods that `app.LitGemmaApp` implements;
  - LIT's handler table (`_wsgi_app._handlers`), to tell endpoints from
    static files;
  - LIT's prediction caches: each `CachingModelWrapper` LIT builds is
    replaced by a `ContentKeyedWrapper`, keyed by a hash of what was sent
    (never the client's `_id`), its entries in one bounded
    `caching.PredictionStore`, its lock table guarded;
  - LIT's private app state read by request checks (models, datasets,
    components, metadata: `LitAppHooks.lit_*`), and the endpoints
    `/post_new_data`, `/fetch_new_data`, `/remove_new_data`,
    `/push_ui_state`, `/get_metrics` and `/get_info`'s metadata, narrowed;
  - `/annotate_new_data` and `/get_preds`, seen by hooks (findings are
    kept from the first, spans remembered from the second), and LIT's
    indexed copy of a dataset whose examples change (`LiveIndexedDataset`,
    the team's findings; `/get_info` gives its current size);
  - LIT's `_get_interpretations`, for a projection of a dataset's own
    Embeddings field (the data map): LIT's client sends it with an empty
    model name, which LIT 1.3.1 looks up and fails on;
  - ROUGE-L's private per-pair scorer (`RougeLHooks.check_pair`);
  - where LIT keeps its built client (`client_root`).
(Keras' one override, skipping random initial weights while a preset
loads, is models/keras_init.py.)
"""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Mapping

import lit_nlp
from lit_nlp import app as lit_app
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.components import metrics as lit_metrics
from lit_nlp.lib import caching as lit_caching

from lit_gemma.lit import caching
from lit_gemma.web import request_checks

# Distribution name -> the version this module was written for.
VERSIONS = {"lit-nlp": "1.3.1"}
# The private LitApp methods `LitAppHooks` overrides.
LIT_ENDPOINT_METHODS = ("_create_model", "_create_dataset",
                        "_save_datapoints", "_load_datapoints")


def lit_client_root() -> str:
  """The folder of LIT's built web client (LIT's own --client_root default)."""
  return str(pathlib.Path(lit_nlp.__file__).parent / "client" / "build"
             / "default")


class BoundedPredsCache(lit_caching.PredsCache):
  """A `PredsCache` whose entries live in a shared `PredictionStore`.

  LIT's table of prediction locks is kept, with its methods guarded: in
  lit-nlp 1.3.1 `pred_lock_key` iterates that table while other request
  threads change it (RuntimeError: dictionary changed size during
  iteration). Never pickled to disk.
  """

  def __init__(self, name: str, store: caching.PredictionStore,
               allow_concurrent_predictions: bool = True):
    super().__init__(name, allow_concurrent_predictions)
    self.store = store

  def put(self, data, key):
    if key is not None:
      self.store.put(key, data)

  def get(self, key):
    return None if key is None else self.store.get(key)

  def info(self) -> str:
    return str(len(self.store))

  def pred_lock_key(self, keys):
    with self.lock:
      return super().pred_lock_key(keys)

  def get_pred_lock(self, keys):
    with self.lock:
      return super().get_pred_lock(keys)

  def delete_pred_lock(self, keys):
    with self.lock:
      return super().delete_pred_lock(keys)

  def save_to_disk(self):
    pass

  def load_from_disk(self):
    pass


class ContentKeyedWrapper(lit_caching.CachingModelWrapper):
  """LIT's caching wrapper, keyed by what was sent, never the client's
  `_id` (so no client can plant a prediction others see), stored in a
  bounded `PredictionStore`."""

  def __init__(self, model, name: str, store: caching.PredictionStore):
    super().__init__(model, name)
    self._cache = BoundedPredsCache(
        name, store, model.supports_concurrent_predictions)

  def key_fn(self, d) -> lit_caching.CacheKey:
    return (self._name, lit_dataset.input_hash(d))

  def _validate_ids(self, inputs):
    pass  # The id plays no part in the key.


class RougeLHooks(lit_metrics.RougeL):
  """LIT's ROUGE-L with its private per-pair scorer behind `check_pair`."""

  def check_pair(self, reference, prediction) -> None:
    """Called before each (reference, prediction) is scored; may raise."""

  def _score(self, reference, prediction):
    self.check_pair(reference, prediction)
    return super()._score(reference, prediction)


class LiveIndexedDataset(lit_dataset.IndexedDataset):
  """LIT's indexed copy of a dataset, made again from `source` whenever
  `source.version()` changes (LIT indexes each dataset once, at start)."""

  def __init__(self, source: lit_dataset.Dataset):
    self._source = source
    self._version = source.version()
    self._live_lock = threading.Lock()
    super().__init__(base=source, id_fn=lit_dataset.input_hash)

  def _refresh(self) -> None:
    version = self._source.version()
    if version == self._version:
      return
    with self._live_lock:
      indexed = self.index_inputs(list(self._source.examples))
      self._examples = [self._normalize_example(ex["data"], ex["id"],
                                                ex["meta"]) for ex in indexed]
      self._index = {ex["id"]: ex for ex in indexed}
      self._indexed_examples = indexed
      self._version = version

  @property
  def examples(self):
    self._refresh()
    return self._examples

  @property
  def indexed_examples(self):
    self._refresh()
    return self._indexed_examples

  @property
  def index(self):
    self._refresh()
    return super().index

  def __len__(self) -> int:
    self._refresh()
    return len(self._examples)


class LitAppHooks(lit_app.LitApp):
  """LIT's app with its private internals behind public hooks.

  Subclasses implement `refuse_model_loading`, `check_dataset_loading`,
  `datapoints_path`, `public_metadata`, `new_datapoints` and
  `predictions_served`, and may set `max_saved_datapoint_sets`; nothing
  outside this module names a private member of LIT. `live_datasets` are
  datasets whose examples change while the server runs (each has a
  `version()`): LIT serves them as they are at each request.
  """

  # Most /post_new_data sets kept (LIT keeps every one); None: no bound.
  max_saved_datapoint_sets: int | None = None

  def __init__(self, *args,
               prediction_store: caching.PredictionStore,
               live_datasets: Mapping[str, lit_dataset.Dataset] = {},  # pylint: disable=dangerous-default-value
               **kw):
    self.prediction_store = prediction_store
    super().__init__(*args, **kw)
    for name, source in live_datasets.items():
      self._datasets[name] = LiveIndexedDataset(source)
    for name, wrapper in list(self._models.items()):
      # LIT's own wrapper (keyed by the client's id, never evicted) is
      # replaced; nothing was cached in it: lit-gemma gives LIT no
      # data_dir to load a cache from.
      self._models[name] = ContentKeyedWrapper(wrapper.wrapped, name,
                                               prediction_store)

  # LIT's state, read-only, for request checks.

  @property
  def lit_models(self):
    return self._models

  @property
  def lit_datasets(self):
    return self._datasets

  @property
  def lit_dataset_loaders(self):
    return self._dataset_loaders

  @property
  def lit_info(self):
    return self._info

  def lit_components(self, kind: str):
    """LIT's generators, interpreters or metrics by name."""
    return {"generators": self._generators,
            "interpreters": self._interpreters,
            "metrics": self._metrics}[kind]

  # Hooks for subclasses.

  def refuse_model_loading(self) -> None:
    """Called for /create_model; raise to refuse it."""

  def check_dataset_loading(self) -> None:
    """Called before /create_dataset; raise to refuse it."""

  def datapoints_path(self, endpoint: str, path: str | None) -> str | None:
    """The file /save_datapoints or /load_datapoints may use for `path`."""
    return path

  def public_metadata(self, info: dict) -> dict:
    """What `/get_info` tells clients of LIT's metadata `info`."""
    return info

  def new_datapoints(self, dataset_name: str, inputs: list[dict]) -> None:
    """Called by /annotate_new_data before LIT annotates and ids `inputs`
    (IndexedInputs); may change their data, or raise to refuse them."""

  def predictions_served(self, model: str, inputs: list[dict]) -> None:
    """Called after /get_preds answered `inputs` (IndexedInputs) of
    `model`."""

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

  def _build_metadata(self):
    return self.public_metadata(super()._build_metadata())

  def _get_info(self, data, **kw):
    info = super()._get_info(data, **kw)
    for name, dataset in self._datasets.items():
      if isinstance(dataset, LiveIndexedDataset):
        info["datasets"][name]["size"] = len(dataset)
    return info

  def _annotate_new_data(self, data, dataset_name=None, **kw):
    self.new_datapoints(dataset_name, data["inputs"])
    return super()._annotate_new_data(data, dataset_name=dataset_name, **kw)

  def _get_preds(self, data, model=None, **kw):
    answer = super()._get_preds(data, model=model, **kw)
    self.predictions_served(model, data["inputs"])
    return answer

  def _post_new_data(self, data, dataset_name=None, **kw):
    answer = super()._post_new_data(data, dataset_name=dataset_name, **kw)
    if self.max_saved_datapoint_sets is not None:
      with self._saved_datapoints_lock:
        caching.keep_newest(self._saved_datapoints,
                                  self.max_saved_datapoint_sets)
    return answer

  def _check_saved_set(self, saved_datapoints_id: str | None) -> None:
    with self._saved_datapoints_lock:
      if saved_datapoints_id not in self._saved_datapoints:
        raise request_checks.NotServed(
            f"no saved datapoints with id "
            f"{request_checks.shown(saved_datapoints_id)}")

  def _fetch_new_data(self, data, saved_datapoints_id=None, **kw):
    self._check_saved_set(saved_datapoints_id)
    return super()._fetch_new_data(
        data, saved_datapoints_id=saved_datapoints_id, **kw)

  def _remove_new_data(self, data, saved_datapoints_id=None, **kw):
    self._check_saved_set(saved_datapoints_id)
    return super()._remove_new_data(
        data, saved_datapoints_id=saved_datapoints_id, **kw)

  def _push_ui_state(self, data, dataset_name=None, **kw):
    if self.ui_state_tracker is None:
      raise request_checks.NotServed(
          "/push_ui_state is only served to a notebook's LIT widget")
    return super()._push_ui_state(data, dataset_name=dataset_name, **kw)

  def _get_interpretations(self, data, model=None, dataset_name=None,
                           interpreter=None, **kw):
    if request_checks.dataset_projection(
        "/get_interpretations", {"model": model, "interpreter": interpreter}):
      # The projector reads the inputs' own field (use_input, checked by
      # request_checks): no model runs and none is looked up.
      inputs = [ex["data"] for ex in data["inputs"]]
      return self._interpreters[interpreter].run(
          inputs, None, self._datasets[dataset_name], model_outputs=None,
          config=data.get("config"))
    return super()._get_interpretations(
        data, model=model, dataset_name=dataset_name,
        interpreter=interpreter, **kw)

  def _get_metrics(self, data, **kw):
    if not data.get("inputs"):
      raise request_checks.BadRequest("/get_metrics needs at least one input")
    return super()._get_metrics(data, **kw)
