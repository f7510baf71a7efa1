"""The LIT internals lit-gemma reaches into (lit/internals.py) are
still there, in the versions it was written for: an upgrade fails here
first, naming what moved, instead of breaking the server at run time."""

import importlib.metadata
import inspect
import pathlib
import subprocess
import sys

import pytest
from lit_nlp import app as lit_app
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.components import metrics as lit_metrics
from lit_nlp.lib import caching as lit_caching
from lit_nlp.lib import wsgi_app

from lit_gemma.lit import internals


@pytest.mark.parametrize("distribution", sorted(internals.VERSIONS))
def test_installed_versions_are_the_ones_written_for(distribution):
  assert importlib.metadata.version(distribution) == (
      internals.VERSIONS[distribution]), (
          f"{distribution} changed: re-check every override in lit/internals.py, "
          f"then update internals.VERSIONS")


@pytest.mark.parametrize("method", internals.LIT_ENDPOINT_METHODS)
def test_lit_endpoint_methods_take_what_the_hooks_pass(method):
  params = inspect.signature(getattr(lit_app.LitApp, method)).parameters
  assert list(params)[:2] == ["self", "data" if method != "_load_datapoints"
                              else "unused_data"]
  if method.endswith("_datapoints"):
    assert {"dataset_name", "path"} <= set(params)


def test_lit_internals_used_are_present():
  source = inspect.getsource(lit_caching.CachingModelWrapper.__init__)
  assert "self._cache = PredsCache(" in source and "self._name = name" in source
  for name in ("pred_lock_key", "get_pred_lock", "delete_pred_lock", "lock",
               "put", "get", "save_to_disk", "load_from_disk"):
    assert hasattr(lit_caching.PredsCache, name), name
  for name in ("key_fn", "_validate_ids"):
    assert hasattr(lit_caching.CachingModelWrapper, name), name
  assert "self._handlers = handlers" in inspect.getsource(wsgi_app.App.__init__)
  app_init = inspect.getsource(lit_app.LitApp.__init__)
  for state in ("self._saved_datapoints = ", "self._saved_datapoints_lock = ",
                "self._generators = ", "self._interpreters = ",
                "self._metrics = ", "self._dataset_loaders",
                "self._info = self._build_metadata()",
                "caching.CachingModelWrapper("):
    assert state in app_init, state
  for method in ("_build_metadata", "_post_new_data", "_fetch_new_data",
                 "_remove_new_data", "_push_ui_state", "_get_metrics",
                 "_get_info", "_annotate_new_data", "_get_preds",
                 "_get_interpretations"):
    assert callable(getattr(lit_app.LitApp, method)), method
  # LiveIndexedDataset rebuilds what IndexedDataset builds once.
  indexed = inspect.getsource(lit_dataset.IndexedDataset)
  for state in ("self._indexed_examples = ", "self._examples = [",
                "self._index = {", "def index_inputs(",
                "def _normalize_example("):
    assert state in indexed, state
  assert "def _score(self, reference" in inspect.getsource(
      lit_metrics.RougeL)
  assert (pathlib.Path(internals.lit_client_root()) / "main.js").is_file()


def test_no_module_outside_internals_names_a_private_lit_member():
  package = pathlib.Path(internals.__file__).parents[1]
  private = ("._models", "._datasets", "._info", "._cache", "._wsgi_app",
             "._generators", "._interpreters", "._metrics",
             "._dataset_loaders", "._saved_datapoints", "__class__ =")
  for path in package.rglob("*.py"):
    if path.name == "internals.py":
      continue
    text = path.read_text()
    for name in private:
      assert name not in text.replace("self._cache", "self.cache_"), (
          f"{path.relative_to(package)} names {name!r}")


def test_importing_the_server_defines_no_flags():
  code = ("from absl import flags; before = set(flags.FLAGS); "
          "import lit_gemma.serve.entry; "
          "print(sorted(set(flags.FLAGS) - before - {'logtostderr', "
          "'alsologtostderr', 'log_dir', 'v', 'verbosity', 'logger_levels', "
          "'stderrthreshold', 'showprefixforinfo'}))")
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=300, check=True)
  assert done.stdout.strip().splitlines()[-1] == "[]"
