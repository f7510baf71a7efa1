"""Builds the one LIT app every front end serves: `build_app(config)`.

`launch.py`, gunicorn (`server.get_wsgi_app`) and the notebook widget all
serve what it returns, so fixes land once. Datasets are read before the
model stack is imported, so a bad data file is refused in a second or two.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from absl import logging
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.api import model as lit_model

from lit_gemma.lit import components
from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import template_files
from lit_gemma.serve import config as config_lib
from lit_gemma.lit import datasets as datasets_lib
from lit_gemma.lit import internals
from lit_gemma.lit import layouts
from lit_gemma.lit import app as lit_app
from lit_gemma.models import loading
from lit_gemma.lit.columns import foreground
from lit_gemma.models import warmup

_SPLASH_DOC = """
# lit-gemma: prompt debugging

1. Pick an example in the data table (or type a prompt in the editor).
2. In Sequence Salience, choose a sequence to explain: the dataset's target
   or the model's response.
3. Click a word of it: the prompt segments that drove it light up, darker
   for more influence. Shift-click to extend the selection.
4. Edit the prompt in the Datapoint Editor and press Add to compare.
"""


class _ProgressLogged(lit_model.ModelWrapper):
  """Logs progress of bulk predictions (a whole dataset's responses)."""

  def __init__(self, model: lit_model.Model, name: str, every: int):
    super().__init__(model)
    self._name = name
    self._every = max(every, 1)

  def predict(self, inputs: Iterable[dict], *args, **kw) -> Iterator[dict]:
    inputs = list(inputs)
    total = len(inputs)
    start = time.monotonic()
    for done, output in enumerate(
        self.wrapped.predict(inputs, *args, **kw), start=1):
      if total > self._every and (done % self._every == 0 or done == total):
        logging.info("%s: %d/%d responses (%.0f s)", self._name, done, total,
                     time.monotonic() - start)
      yield output


def load_datasets(config: config_lib.ServerConfig,
                  chat_format_names: Sequence[str] = (chat_formats.DEFAULT,),
                  classify=None) -> dict[str, lit_dataset.Dataset]:
  """The configured datasets, in order, chat templates rendered in each of
  `chat_format_names`, dynamic templates routed by `classify` (None:
  unclassified); DataError on bad input."""
  loaded = {}
  for name, path in config.dataset_entries:
    loaded[name] = datasets_lib.load(path, name=name,
                                     max_examples=config.max_examples,
                                     chat_format_names=chat_format_names,
                                     classify=classify)
    logging.info("%s: dataset %s: %d examples from %s", config_lib.PROG, name,
                 len(loaded[name]), path)
  return loaded


def for_models(config: config_lib.ServerConfig,
               datasets: dict[str, lit_dataset.Dataset],
               loaded: Mapping[str, Any],
               response_cache=None) -> dict[str, lit_dataset.Dataset]:
  """`datasets` (rendered in Gemma's chat turns), or loaded again with chat
  prompts rendered in each loaded model's turns where those differ, and
  dynamic templates routed by the first model's answers (its classifier's
  labels kept in `response_cache`)."""
  formats = list(dict.fromkeys(lm.chat_format for lm in loaded.values()))
  classify = None
  if loaded and any(template_files.classifies(path)
                    for _, path in config.dataset_entries):
    from lit_gemma.evaluation import routing  # pylint: disable=g-import-not-at-top
    classify = routing.Classifier(loaded[config.models[0][0]],
                                  response_cache, config.max_length)
  if formats != [chat_formats.DEFAULT] or classify is not None:
    return load_datasets(config, formats, classify)
  return datasets


def build_app(config: config_lib.ServerConfig, *,
              lms: Mapping[str, Any] | None = None,
              response_cache=None) -> lit_app.LitGemmaApp:
  """Loads what `config` names and builds the LIT app (a WSGI app).

  Args:
    config: the server settings.
    lms: already loaded `GemmaLM`s by model name (a notebook's, a test's);
      other configured models are loaded here.
    response_cache: a `ResponseCache`; default: the one under
      $LIT_GEMMA_CACHE.

  Returns:
    The app; `serving.serve()` serves it, gunicorn can serve it directly.

  Raises:
    UserError: bad input (DataError, SourceError, ConfigError), one line.
  """
  datasets = load_datasets(config)  # Bad data is refused before any load.
  loaded = loading.load_models(config.models, config.model_settings, lms=lms)
  # pylint: disable=g-import-not-at-top  (the model stack is imported now)
  from lit_gemma.lit import model_groups as models_lib
  from lit_gemma.lit import response_cache as response_cache_lib
  from lit_gemma.lit.columns import wiring
  # pylint: enable=g-import-not-at-top
  if response_cache is None:
    response_cache = response_cache_lib.ResponseCache()
  datasets = for_models(config, datasets, loaded, response_cache)
  settings = models_lib.GroupSettings.from_config(config)
  lit_models = {}
  for name, _ in config.models:
    group = models_lib.model_group(name, loaded[name], settings,
                                   response_cache)
    group[name] = _ProgressLogged(group[name], name,
                                  config.generation_batch_size)
    lit_models.update(group)
  gate = foreground.Gate()  # Background columns wait for the UI's requests.
  share_models = wiring.add_models(config, loaded, lit_models, gate)

  options = {"client_root": internals.lit_client_root(),
             "onboard_start_doc": _SPLASH_DOC} | dict(config.lit_options)
  options.pop("data_dir", None)
  if config.team_mode:
    options["demo_mode"] = True
  app = lit_app.LitGemmaApp(
      lit_models, datasets,
      layouts=layouts.LAYOUTS,
      model_loaders={},
      dataset_loaders=({} if config.team_mode else
                       datasets_lib.dataset_loaders(config.data_root)),
      data_root=config.data_root,
      team_mode=config.team_mode,
      max_request_bytes=config.max_request_bytes,
      max_request_inputs=config.max_request_inputs,
      preds_cache_mb=config.preds_cache_mb,
      allowed_hosts=config.allowed_hosts,
      listen_host=config.host,
      generators=components.generators(config.team_mode),
      metrics=components.metrics(),
      page_title=config.page_title,
      default_layout=config.default_layout,
      annotators=wiring.annotators(config, datasets, loaded),
      **options,
  )
  app.lms = loaded
  if config.warm_up and datasets:
    examples = [ex for d in datasets.values() for ex in d.examples]
    app.warm_up_thread = warmup.start(loaded, examples,
                                      config.max_new_tokens, config.max_length)
  app.column_workers = wiring.start_workers(
      share_models, datasets, gate, getattr(app, "warm_up_thread", None))
  return app
