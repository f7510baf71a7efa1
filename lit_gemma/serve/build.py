"""Builds the one LIT app every front end serves: `build_app(config)`.

`launch.py`, gunicorn (`server.get_wsgi_app`) and the notebook widget all
serve what it returns, so fixes land once. Datasets are read before the
model stack is imported, so a bad data file is refused in a second or two.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from absl import logging
from lit_nlp.api import model as lit_model

from lit_gemma.findings import store as findings_store
from lit_gemma.lit import components
from lit_gemma.serve import config as config_lib
from lit_gemma.lit import datasets as datasets_lib
from lit_gemma.lit import internals
from lit_gemma.lit import layouts
from lit_gemma.lit import app as lit_app
from lit_gemma.models import loading
from lit_gemma.models import warmup
from lit_gemma.serve.served_datasets import for_models
from lit_gemma.serve.served_datasets import load_datasets
from lit_gemma.web import iap

_SPLASH_DOC = """
# lit-gemma: prompt debugging

1. Pick an example in the data table (or type a prompt in the editor).
2. In Sequence Salience, choose a sequence to explain: the dataset's target
   or the model's response.
3. Click a word of it: the prompt segments that drove it light up, darker
   for more influence. Shift-click to extend the selection.
4. Edit the prompt in the Datapoint Editor and press Add to compare.

Gradient maps are fast but not always faithful: tick `NAME_verdicts`'s
columns in the data table to see whether a map beats random deletions.
For a faithful map, also select in the model picker `NAME_greedy` (the
sentences or lines whose removal together breaks the answer: the map that
passes the deletion test most often) or `NAME_fit` (each one's weight over
random removals: the best sufficiency); `NAME_loo` (leave-one-out),
`NAME_loo_word` and `NAME_ig` (integrated gradients) are computed in the
background too. With a `foil` field, `NAME_contrast` explains why the
target rather than the foil.
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


def _findings(config: config_lib.ServerConfig):
  """(findings store, IAP verifier) of `config`; (None, None) without
  --findings_dir. ConfigError if the folder cannot be written."""
  if config.findings_dir is None:
    return None, None
  store = findings_store.FindingsStore(
      config.findings_dir, max_findings=config.max_findings,
      max_note_chars=config.max_note_chars)
  verifier = (iap.Verifier(config.iap_audience, config.iap_keys)
              if config.iap_audience else None)
  logging.info("%s: findings kept in %s (%d now); authors %s", config_lib.PROG,
               config.findings_dir, store.version(),
               "verified by IAP" if verifier else "typed, unverified")
  return store, verifier


def build_app(config: config_lib.ServerConfig, *,
              lms: Mapping[str, Any] | None = None,
              response_cache=None) -> lit_app.LitGemmaApp:
  """Loads what `config` names and builds the LIT app (a WSGI app).

  Args:
    config: the server settings.
    lms: already loaded `GemmaLM`s by model name (a notebook's, a test's);
      other configured models are loaded here.
    response_cache: a `ResponseCache`; default: the one under
      $LIT_GEMMA_CACHE, seeded with the bundled sets' shipped responses.

  Returns:
    The app; `serving.serve()` serves it, gunicorn can serve it directly.

  Raises:
    UserError: bad input (DataError, SourceError, ConfigError), one line.
  """
  datasets = load_datasets(config)  # Bad data is refused before any load.
  findings, verifier = _findings(config)  # So is an unwritable folder.
  loaded = loading.load_models(config.models, config.model_settings, lms=lms)
  # pylint: disable=g-import-not-at-top  (the model stack is imported now)
  from lit_gemma.lit import jobs as jobs_lib
  from lit_gemma.lit import method_groups
  from lit_gemma.lit import model_groups as models_lib
  from lit_gemma.lit import response_cache as response_cache_lib
  from lit_gemma.lit.columns import wiring
  # pylint: enable=g-import-not-at-top
  if response_cache is None:  # The shipped responses are served at once.
    response_cache = response_cache_lib.ResponseCache()
    response_cache.seed()
  datasets = for_models(config, datasets, loaded, response_cache)
  settings = models_lib.GroupSettings.from_config(config)
  lit_models, responses = {}, {}
  jobs = jobs_lib.Jobs()  # Costly maps and columns, off the request thread.
  for name, _ in config.models:
    group = models_lib.model_group(name, loaded[name], settings,
                                   response_cache)
    responses[name] = group[name].responses
    group[name] = _ProgressLogged(group[name], name,
                                  config.generation_batch_size)
    lit_models.update(group)
  for name, _ in config.models:  # after every `NAME`: LIT selects the first
    lit_models.update(method_groups.groups(
        name, loaded[name], settings, response_cache, config.method_groups,
        jobs))
  share_models = wiring.add_models(config, loaded, lit_models, jobs=jobs,
                                   responses=responses)

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
      findings_store=findings, iap_verifier=verifier,
      **options,
  )
  app.lms = loaded
  app.jobs = jobs
  if config.warm_up and datasets:  # Before the URL shows: see warmup.py.
    examples = [ex for d in datasets.values() for ex in d.examples]
    warmup.warm_up(loaded, examples, config.max_new_tokens, config.max_length)
  app.column_workers = wiring.start_workers(share_models, datasets)
  return app
