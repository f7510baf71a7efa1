"""The lit-gemma UI inline in a notebook (Colab or Jupyter).

`show()` builds the app with `app_builder.build_app` from a `ServerConfig`,
so a notebook serves exactly what `launch.py` serves, and renders it in the
cell. Where LIT's own `LitWidget` falls short, this widget:
  - serves on `serving.make_server` (a thread per request), so a long
    generation for the data table does not freeze the page;
  - stops at once: `stop()` returns in a fraction of a second with the port
    closed, rather than waiting for a request to time out (about 30 s);
  - in Jupyter, renders an iframe with its address written in `src` (LIT's
    sets it from a script, so its output stays blank wherever scripts do
    not run, e.g. in a reopened, untrusted notebook);
  - refuses a bad dataset or model source with one line, not a traceback.

In Colab the page is proxied by `google.colab.output`; in Jupyter the browser
must reach the kernel's port, or go through `proxy_url` (remote Jupyter with
jupyter-server-proxy: `proxy_url="/proxy/%PORT%/"`).
"""

from __future__ import annotations

import atexit
import dataclasses
import html
import logging
import os
import sys
import threading
import warnings
from collections.abc import Mapping
from typing import Any

from lit_gemma.serve import config as config_lib
from lit_gemma import errors
from lit_gemma.models import loading
from lit_gemma.models import memory_budget
from lit_gemma.models import native_logs
from lit_gemma.serve import dev_server as serving
from lit_gemma.serve import settings as settings_lib

with warnings.catch_warnings():
  # LIT imports tqdm's notebook bar, which warns without ipywidgets; no
  # bar is drawn here.
  warnings.filterwarnings("ignore", message="IProgress not found")
  from lit_gemma.serve import build  # pylint: disable=g-import-not-at-top

DEFAULT_HEIGHT = 800
# How often the serving loop checks for `stop()`: the most `stop()` waits.
POLL_SECONDS = 0.05
PORT_PLACEHOLDER = "%PORT%"
# LIT's widget reads a default proxy URL from this variable; so does ours.
PROXY_URL_ENV = "LIT_PROXY_URL"

PROG = config_lib.PROG
# The server's settings, as keywords of `show` (and `config`); the model
# ones also of `load_model`.
SETTINGS = frozenset(f.name for f, _ in settings_lib.of(config_lib.ServerConfig))
MODEL_SETTINGS = frozenset(
    f.name for f in dataclasses.fields(loading.ModelSettings)) & SETTINGS
_SHOW_KEYWORDS = frozenset(
    ("lms", "height", "proxy_url", "render", "response_cache"))
_live: set["Widget"] = set()


class StartError(RuntimeError):
  """A widget that could not start. IPython shows only its message, the
  way `launch.py` prints one line, rather than a traceback."""

  def _render_traceback_(self) -> list[str]:
    return [f"{PROG}: {self}"]


def in_colab() -> bool:
  """Whether this kernel runs in Google Colab."""
  if "google.colab" in sys.modules:
    return True
  try:
    import google.colab  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def _quiet_request_log() -> None:
  """Keeps werkzeug's line per request out of the cell outputs (a kernel
  prints a background thread's log in whatever cell runs), unless the user
  chose a level for it."""
  request_log = logging.getLogger("werkzeug")
  if request_log.level == logging.NOTSET:
    request_log.setLevel(logging.WARNING)


class Widget:
  """A LIT app served from this kernel on a background thread.

  Attributes:
    app: the `LitGemmaApp` being served.
    lms: the loaded `GemmaLM`s by model name (share them with `explain`).
    port: the port it listens on.
    url: its address as seen from the kernel's machine.
  """

  def __init__(self, app, *, host: str = "127.0.0.1", port: int = 0,
               height: int = DEFAULT_HEIGHT, proxy_url: str | None = None):
    self.app = app
    self.lms = app.lms
    self.height = height
    self.proxy_url = proxy_url
    _quiet_request_log()
    self._server = serving.make_server(app, host, port)
    self.port = self._server.port
    shown = f"[{host}]" if ":" in host else host
    self.url = f"http://{shown}:{self.port}/"
    self._thread = threading.Thread(
        target=self._server.serve_forever,
        kwargs={"poll_interval": POLL_SECONDS},
        name=f"lit-gemma-widget-{self.port}", daemon=True)
    self._thread.start()
    _live.add(self)

  @property
  def serving(self) -> bool:
    return self._thread.is_alive()

  def frame_url(self) -> str:
    """The address the notebook's browser loads: `url`, or `proxy_url`
    (default $LIT_PROXY_URL) with %PORT% replaced by the port."""
    proxy = self.proxy_url or os.environ.get(PROXY_URL_ENV)
    if proxy:
      return proxy.replace(PORT_PLACEHOLDER, str(self.port))
    return self.url

  def html(self, height: int | None = None) -> str:
    """The Jupyter output: the UI in an iframe and a link to a new tab."""
    src = html.escape(self.frame_url(), quote=True)
    return (
        f'<iframe src="{src}" width="100%" height="{height or self.height}" '
        f'frameborder="0" title="{PROG}"></iframe>'
        f'<div><a href="{src}" target="_blank" rel="noopener">'
        f'Open {PROG} in a new tab</a></div>')

  def render(self, height: int | None = None, new_tab: bool = False) -> None:
    """Shows the UI in the current cell's output (or, in Colab with
    `new_tab`, in a new browser tab)."""
    if not self.serving:
      raise StartError(f"this widget was stopped; call {__name__}.show() "
                       f"again")
    if in_colab():
      from google.colab import output  # pylint: disable=g-import-not-at-top
      if new_tab:
        output.serve_kernel_port_as_window(self.port, path="/")
      else:
        output.serve_kernel_port_as_iframe(
            self.port, height=str(height or self.height), path="/")
      return
    from IPython import display  # pylint: disable=g-import-not-at-top
    display.display(display.HTML(self.html(height)))

  def stop(self) -> None:
    """Stops serving and frees the port; returns within `POLL_SECONDS` or
    so. Requests already running finish on their own threads."""
    _live.discard(self)
    if self._thread.is_alive():
      self._server.shutdown()
      self._thread.join()
    self._server.server_close()

  def __enter__(self) -> "Widget":
    return self

  def __exit__(self, *unused_exc) -> None:
    self.stop()

  def __repr__(self) -> str:
    state = f"serving {self.url}" if self.serving else "stopped"
    return f"<{PROG} widget, {state}>"


def stop_all() -> None:
  """Stops every widget this kernel started (also run at exit)."""
  for widget in list(_live):
    widget.stop()


atexit.register(stop_all)


def load_model(source: str = "embedded", **settings):
  """Loads a Gemma once for `show(lms=...)` and `explain`, as `launch.py`
  does: compiled programs kept on disk for the next kernel, no start-up
  chatter of the native libraries in the cell, a bad source or setting as
  one line (StartError). Takes the server's model settings as keywords
  (MODEL_SETTINGS: precision, batch_size, ...);
  `distribution="model_parallel[:N]"` splits the weights over N of the
  runtime's accelerators (a TPU's cores, several GPUs)."""
  try:
    settings_lib.refuse_unknown(settings, MODEL_SETTINGS, "keyword")
    for name, value in settings.items():
      settings_lib.accept_one(config_lib.ServerConfig, name, value)
    with native_logs.native_chatter_dropped():
      return loading.load_model(source, loading.ModelSettings(**settings))
  except errors.UserError as e:
    raise StartError(str(e)) from None


def _models_of(lms: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
  """The (name, source) pairs of already loaded models."""
  pairs = []
  for name, lm in lms.items():
    if getattr(lm, "source", None) is None:
      raise errors.ConfigError(
          f"lms[{name!r}] has no source; also pass models={{{name!r}: "
          f"SOURCE}}")
    pairs.append((name, lm.source.spec))
  return tuple(pairs)


def config(models=None, datasets=None, *, lms: Mapping[str, Any] | None = None,
           **settings) -> config_lib.ServerConfig:
  """The `ServerConfig` `show` serves: models default to `lms`' names and
  sources (else the server's default), the port to a free one, and memory
  is planned for a notebook."""
  settings_lib.refuse_unknown(settings, SETTINGS)
  if models is not None:
    settings["models"] = models
  elif lms:
    settings["models"] = _models_of(lms)
  if datasets is not None:
    settings["datasets"] = datasets
  settings.setdefault("port", 0)
  if not settings.get("team_mode"):  # A notebook's own memory budget.
    models = settings_lib.accept_one(
        config_lib.ServerConfig, "models",
        settings.get("models", config_lib.ServerConfig.models))
    plan = memory_budget.plan(
        "notebook", settings.get("memory_budget_gb"),
        tuple(source for _, source in models),
        settings.get("precision", config_lib.ServerConfig.precision))
    settings.setdefault("max_length", plan.max_length)
    settings.setdefault("salience_cache_mb", plan.salience_cache_mb)
  return config_lib.ServerConfig(**settings)


def show(models=None, datasets=None, *, lms: Mapping[str, Any] | None = None,
         height: int = DEFAULT_HEIGHT, proxy_url: str | None = None,
         render: bool = True, response_cache=None, **settings) -> Widget:
  """Builds the lit-gemma app, serves it from this kernel and renders it.

  Args:
    models: {name: source}, (name, source) pairs or "NAME:SOURCE,..."; default
      the models of `lms`, else gemma:embedded.
    datasets: {name: path}, pairs or "NAME:PATH,..."; None: the bundled sets.
    lms: already loaded `GemmaLM`s by model name, used as they are (load a
      model once and share it with `explain`).
    height: the UI's height in pixels.
    proxy_url: for remote Jupyter, the address the browser uses for the
      kernel's port, with %PORT% in it (e.g. "/proxy/%PORT%/").
    render: show the UI now (else call `render()`).
    response_cache: a `ResponseCache` (default: the one in $LIT_GEMMA_CACHE).
    **settings: the server's settings, named as its flags are (listed
      below).

  Returns:
    The serving `Widget`; `stop()` it when done.

  Raises:
    StartError: bad settings, data or model source (one line); an unknown
      keyword is named with the accepted ones.
  """
  # The names a notebook's proxy sends (Colab's
  # googleusercontent.com pages; a Jupyter proxy's host is not known here,
  # so with proxy_url every name is answered unless allowed_hosts is set).
  if in_colab():
    settings.setdefault("allowed_hosts", ("*.googleusercontent.com",))
  elif proxy_url or os.environ.get(PROXY_URL_ENV):
    settings.setdefault("allowed_hosts", ("*",))
  try:
    settings_lib.refuse_unknown(settings, SETTINGS | _SHOW_KEYWORDS, "keyword")
    served = config(models, datasets, lms=lms, **settings)
    app = build.build_app(served, lms=lms,
                                response_cache=response_cache)
    widget = Widget(app, host=served.host, port=served.port,
                    height=height, proxy_url=proxy_url)
  except errors.UserError as e:
    raise StartError(str(e)) from None
  if render:
    widget.render()
  return widget


show.__doc__ += (
    "\n  Server settings (keywords; the flags of launch.py, same names):\n"
    + settings_lib.keyword_docs(config_lib.ServerConfig,
                                skip=("models", "datasets")))
