"""The lit-gemma server: flags -> `ServerConfig` -> one LIT app.

`build_app(config)` is the one place that loads datasets and models, wires
the response cache and layouts and builds the LIT app; `launch.py`
(`main`), gunicorn (`get_wsgi_app`) and the notebook widget all serve what
it returns, so fixes land once. It needs no parsed absl flags: the flags
only fill a `ServerConfig`.

What the app adds to LIT's own (`LitGemmaApp`):
  - Errors never carry a traceback to the browser. Every endpoint answers an
    exception with one short line (the message of a user error such as a
    prompt over --max_length, else "internal error, see the server log")
    in the form LIT's client shows in its status bar, and the request id
    under which the server log has the details (also in the X-Request-Id
    header of every answer). A last guard rewrites any 5xx answer LIT makes
    itself.
  - No model loaders: the UI cannot load a model from a path or URL.
  - The UI's dataset loader, /save_datapoints and /load_datapoints only
    touch files under --data_root (all of them are refused without it).
    LIT's --demo_mode would also block the datapoint endpoints, but it hides
    the UI's dataset loader too, so it is left to the user.
  - Request bodies are bounded (413) and static files must resolve inside
    LIT's client folder; --team_mode (a shared server, see team.py) also
    answers 403 to every endpoint that loads or touches files.
  - LIT 1.3.1's prediction cache is made safe for concurrent requests.

gunicorn (and the Cloud Run container) serve `get_wsgi_app()`: it answers
at once, with a health endpoint, while the app is built (startup.py), and
reads lit-gemma's flags from $LIT_GEMMA_FLAGS as well as the command line.

Start-up errors (bad flags, a malformed dataset line, an unknown model
source) end the process with one line on stderr and exit status 1 (2 for a
flag that does not parse), never a traceback. Datasets are read before the
model stack is imported, so data errors show in a second or two.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import os
import re
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from absl import flags
from absl import logging
from lit_nlp import app as lit_app
from lit_nlp import server_flags
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.api import model as lit_model
from lit_nlp.lib import caching as lit_caching
from werkzeug import wrappers

from lit_gemma import bounded_cache  # hostile-clients hook
from lit_gemma import bounded_components  # hostile-clients hook
from lit_gemma import connections  # hostile-clients hook
from lit_gemma import datasets as datasets_lib
from lit_gemma import host_guard  # hostile-clients hook
from lit_gemma import layouts
from lit_gemma import public_info  # hostile-clients hook
from lit_gemma import request_checks  # hostile-clients hook
from lit_gemma import startup
from lit_gemma import team
from lit_gemma.datafiles import DataError
from lit_gemma.datafiles import resolve_under

PROG = "lit-gemma"
DEFAULT_MODELS = ("gemma:embedded",)
PRECISIONS = ("float32", "bfloat16")
INTERNAL_ERROR = "internal error, see the server log"
# Marks answers made by the error guards, so the last guard leaves them be.
ERROR_HEADER = "X-Lit-Gemma-Error"
# Every answer carries the id its log lines are written under.
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = "lit_gemma.request_id"  # The WSGI environ key.
# gunicorn reads its own command line; lit-gemma's flags for get_wsgi_app()
# can come from this environment variable (the container sets it).
FLAGS_ENV = "LIT_GEMMA_FLAGS"
# How many sequence-length buckets the background warm-up compiles.
WARM_UP_BUCKETS = 2

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

_SPLASH_DOC = """
# lit-gemma: prompt debugging

1. Pick an example in the data table (or type a prompt in the editor).
2. In Sequence Salience, choose a sequence to explain: the dataset's target
   or the model's response.
3. Click a word of it: the prompt segments that drove it light up, darker
   for more influence. Shift-click to extend the selection.
4. Edit the prompt in the Datapoint Editor and press Add to compare.
"""


class ConfigError(ValueError):
  """A bad server setting; the message is one line naming the flag."""


class RequestRefused(ValueError):
  """A request this server does not serve; the message says why."""


def user_errors() -> tuple[type[Exception], ...]:
  """Errors whose message is written for the user (shown as they are).

  The model stack's own are looked up, not imported: importing them imports
  Keras (seconds), and they can only be raised once it is imported.
  """
  errors: list[type[Exception]] = [ConfigError, RequestRefused, DataError,
                                   request_checks.BadRequest]  # hostile-clients hook
  if "lit_gemma.models" in sys.modules:  # Imported with the model stack.
    errors.append(sys.modules["lit_gemma.models"].RequestError)
  if "lit_gemma.sources" in sys.modules:
    errors.append(sys.modules["lit_gemma.sources"].SourceError)
  return tuple(errors)


# --------------------------------------------------------------- config


def parse_models_flag(value: str | Sequence[str]) -> tuple[tuple[str, str], ...]:
  """`NAME:SOURCE,...` (a string or an already split list) -> pairs."""
  items = [value] if isinstance(value, str) else list(value)
  entries = [e.strip() for item in items for e in item.split(",")]
  pairs: list[tuple[str, str]] = []
  for entry in entries:
    if not entry:
      continue
    name, sep, source = entry.partition(":")
    name, source = name.strip(), source.strip()
    if not sep or not source:
      raise ConfigError(
          f"--models: entry {entry!r} is not NAME:SOURCE "
          f"(for example gemma:embedded)")
    pairs.append((name, source))
  return tuple(pairs)


def _default_client_root() -> str:
  return server_flags.get_flag_holders()["client_root"].default


@dataclasses.dataclass(frozen=True)
class ServerConfig:
  """Everything `build_app` needs; checked on construction.

  Attributes:
    models: (name, source) pairs; a source is what `GemmaLM.load` accepts.
    datasets: (name, path) pairs; None loads every bundled set.
    max_examples: keep the first N examples of each dataset (None: all).
    batch_size: most examples per compiled call.
    max_length: most tokens (prompt + target) a request may have.
    max_new_tokens: most tokens generated per response.
    salience_cache_mb: most memory (MiB) the salience engine keeps for
      recently clicked texts, so that another span of one skips the forward
      pass (see salience/engine.py).
    precision: "float32" or "bfloat16".
    data_root: the only folder the UI may read datasets from (None: the UI
      cannot load files).
    warm_up: compile salience for the common text lengths in the background
      after start, so the first click is fast.
    team_mode: a server shared by a team: LIT demo mode, and no request can
      load models or datasets or read or write files (see team.py).
    max_request_bytes: largest request body served (413 above it).
    max_request_inputs: most inputs one request may have (never fewer than
      the largest loaded dataset has examples).
    preds_cache_mb: most memory (MiB) of kept predictions (least recently
      used dropped first).
    allowed_hosts: host names a local server answers besides loopback ones
      (`*.example.com` for every name under one; team mode answers all).
    host, port: where `serve` listens.
    page_title, default_layout: LIT page settings.
    lit_options: other keyword arguments for `lit_nlp.app.LitApp` (LIT's own
      server flags such as demo_mode or warm_start).
  """

  models: tuple[tuple[str, str], ...] = (("gemma", "embedded"),)
  datasets: tuple[tuple[str, str], ...] | None = None
  max_examples: int | None = None
  batch_size: int = 8
  max_length: int = 1024
  max_new_tokens: int = 64
  salience_cache_mb: int = 2048
  precision: str = "float32"
  data_root: str | None = None
  warm_up: bool = True
  team_mode: bool = False
  max_request_bytes: int = team.DEFAULT_MAX_REQUEST_BYTES
  # hostile-clients hook: request bounds and host names.
  max_request_inputs: int = 256
  preds_cache_mb: int = bounded_cache.DEFAULT_MAX_MB
  allowed_hosts: tuple[str, ...] = ()
  host: str = "127.0.0.1"
  port: int = 5432
  page_title: str = PROG
  default_layout: str = layouts.DEFAULT_LAYOUT
  lit_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    object.__setattr__(self, "models", tuple(tuple(m) for m in self.models))
    object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))  # hostile-clients hook
    if self.datasets is not None:
      object.__setattr__(self, "datasets",
                         tuple(tuple(d) for d in self.datasets))
    self._check()

  def _check(self) -> None:
    if not self.models:
      raise ConfigError("--models: no model given (for example "
                        "--models=gemma:embedded)")
    seen = set()
    for name, source in self.models:
      if not _NAME.fullmatch(name):
        raise ConfigError(
            f"--models: model name {name!r} must start with a letter or "
            f"digit and use only letters, digits, '_', '.' and '-'")
      if name in seen:
        raise ConfigError(f"--models: model name {name!r} is given twice")
      if not source:
        raise ConfigError(f"--models: model {name!r} has no source")
      seen.add(name)
    for flag, value, least in (("--batch_size", self.batch_size, 1),
                               ("--max_new_tokens", self.max_new_tokens, 1),
                               ("--salience_cache_mb", self.salience_cache_mb,
                                0),
                               ("--max_length", self.max_length, 2),
                               ("--max_request_bytes", self.max_request_bytes,
                                1024),
                               ("--port", self.port, 0),
                               # hostile-clients hook
                               ("--max_request_inputs",
                                self.max_request_inputs, 1),
                               ("--preds_cache_mb", self.preds_cache_mb, 0)):
      if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{flag}={value}: must be a whole number >= {least}")
    if self.max_new_tokens >= self.max_length:
      raise ConfigError(
          f"--max_new_tokens={self.max_new_tokens} leaves no room for a prompt "
          f"in --max_length={self.max_length}; make --max_length larger")
    if self.max_examples is not None and (
        isinstance(self.max_examples, bool)
        or not isinstance(self.max_examples, int) or self.max_examples < 1):
      raise ConfigError(
          f"--max_examples={self.max_examples}: must be a whole number >= 1")
    if self.precision not in PRECISIONS:
      raise ConfigError(f"--precision={self.precision}: expected one of "
                        f"{', '.join(PRECISIONS)}")
    if self.team_mode and self.data_root is not None:
      raise ConfigError(
          f"--data_root={self.data_root}: a --team_mode server reads no "
          f"files on request; leave --data_root out")
    if self.data_root is not None and not os.path.isdir(self.data_root):
      raise ConfigError(f"--data_root={self.data_root}: no such folder")
    if self.default_layout not in layouts.LAYOUTS:
      raise ConfigError(
          f"--default_layout={self.default_layout}: expected one of "
          f"{', '.join(layouts.LAYOUTS)}")
    if self.lit_options.get("data_dir"):
      raise ConfigError(
          "--data_dir: LIT's prediction cache pickles its entries and is not "
          "used here; generated responses are kept in SQLite under "
          "$LIT_GEMMA_CACHE")

  @property
  def dataset_entries(self) -> tuple[tuple[str, str], ...]:
    """The datasets to load, bundled ones when none were given."""
    if self.datasets is None:
      return tuple(datasets_lib.parse_datasets_flag(
          datasets_lib.DEFAULT_DATASETS))
    return self.datasets

  @classmethod
  def from_flags(cls, flag_values: flags.FlagValues = flags.FLAGS
                 ) -> "ServerConfig":
    """The config the parsed command-line flags describe."""
    lit = {name: flag_values[name].value
           for name in server_flags.get_flag_holders()}
    host, port = lit.pop("host"), lit.pop("port")
    page_title = lit.pop("page_title") or PROG
    default_layout = lit.pop("default_layout")
    lit.pop("server_type")
    datasets_value = flag_values["datasets"].value
    return cls(
        models=parse_models_flag(flag_values["models"].value),
        datasets=(None if datasets_value is None else tuple(
            datasets_lib.parse_datasets_flag(datasets_value))),
        max_examples=flag_values["max_examples"].value,
        batch_size=flag_values["batch_size"].value,
        max_length=flag_values["max_length"].value,
        max_new_tokens=flag_values["max_new_tokens"].value,
        salience_cache_mb=flag_values["salience_cache_mb"].value,
        precision=flag_values["precision"].value,
        data_root=flag_values["data_root"].value or None,
        warm_up=flag_values["warm_up"].value,
        team_mode=flag_values["team_mode"].value,
        max_request_bytes=flag_values["max_request_bytes"].value,
        # hostile-clients hook
        max_request_inputs=flag_values["max_request_inputs"].value,
        preds_cache_mb=flag_values["preds_cache_mb"].value,
        allowed_hosts=tuple(flag_values["allowed_hosts"].value or ()),
        host=host,
        port=port,
        page_title=page_title,
        default_layout=default_layout,
        lit_options=lit,
    )


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines lit-gemma's flags (LIT's own come with `lit_nlp.server_flags`)."""
  defaults = ServerConfig()
  flags.DEFINE_list(
      "models", list(DEFAULT_MODELS),
      "Models as NAME:SOURCE,... where SOURCE is 'embedded' (Gemma 3 270M, "
      "shipped with lit-gemma), a .gguf file of a Gemma 3 text model, a "
      "keras-hub preset folder or a keras-hub Gemma preset name.",
      flag_values=flag_values)
  flags.DEFINE_list(
      "datasets", None,
      "Datasets as NAME:PATH,... (.jsonl, .csv, .txt, or a .json/.yaml "
      "prompt template). Default: every bundled set; empty: none.",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "max_examples", None, "Keep the first N examples of each dataset.",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "batch_size", defaults.batch_size, "Most examples per model call.",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "max_length", defaults.max_length,
      "Most tokens (prompt + target) a request may have; longer requests are "
      "refused with the count.", flag_values=flag_values)
  flags.DEFINE_integer(
      "max_new_tokens", defaults.max_new_tokens,
      "Most tokens generated per response.", flag_values=flag_values)
  flags.DEFINE_integer(
      "salience_cache_mb", defaults.salience_cache_mb,
      "Most memory (MiB) kept for recently clicked texts, so that another "
      "span of one skips the forward pass (up to twice as fast). The newest "
      "text is always kept; the embedded model keeps about 850 MiB for a "
      "1000-token text.", flag_values=flag_values)
  flags.DEFINE_enum(
      "precision", defaults.precision, PRECISIONS, "Model weights precision.",
      flag_values=flag_values)
  flags.DEFINE_string(
      "data_root", None,
      "The only folder the UI's dataset loader may read (relative paths "
      "start there). Without it the UI cannot load files.",
      flag_values=flag_values)
  flags.DEFINE_bool(
      "warm_up", defaults.warm_up,
      "Compile salience for the datasets' common text lengths in the "
      "background after start, so the first click is fast.",
      flag_values=flag_values)
  flags.DEFINE_bool(
      "team_mode", defaults.team_mode,
      "Serve a team: LIT demo mode; the endpoints that load models or "
      "datasets or read or write files answer 403.", flag_values=flag_values)
  flags.DEFINE_integer(
      "max_request_bytes", defaults.max_request_bytes,
      "Largest request body served; larger ones are answered with 413.",
      flag_values=flag_values)
  # hostile-clients hook: request bounds and host names.
  flags.DEFINE_integer(
      "max_request_inputs", defaults.max_request_inputs,
      "Most inputs one request may have (at least the largest dataset's "
      "example count, so the data table fills).", flag_values=flag_values)
  flags.DEFINE_integer(
      "preds_cache_mb", defaults.preds_cache_mb,
      "Most memory (MiB) kept for predictions of all models; least recently "
      "used ones are dropped first.", flag_values=flag_values)
  flags.DEFINE_list(
      "allowed_hosts", [],
      "Host names a local server answers besides localhost, 127.0.0.1, ::1 "
      "and --host (*.example.com: every name under it). A --team_mode server "
      "answers every name.", flag_values=flag_values)
  flag_values.set_default("page_title", PROG)
  flag_values.set_default("default_layout", layouts.DEFAULT_LAYOUT)


define_flags()


# ----------------------------------------------------------- the LIT app


def _one_line(text: str) -> str:
  return " ".join(str(text).split())


def _request_id(environ) -> str:
  return environ.get(_REQUEST_ID, "-")


def _error_text(message: str, details: str, request_id: str) -> str:
  """What LIT's client shows: one line, then "Details:" (with the id)."""
  return (f"{_one_line(message)}\n\nDetails: {_one_line(details)} "
          f"(request id {request_id})")


def _error_response(app, request, code: int, message: str, details: str):
  """A short text answer in the form LIT's client puts in its status bar
  (the text before "Details:"), marked so the last guard keeps it."""
  body = _error_text(message, details, _request_id(request.environ))
  response = app.respond(request, body, "text/plain", code)
  response.headers[ERROR_HEADER] = "1"
  return response


# hostile-clients hook: _LockedPredsCache moved into bounded_cache.py
# (BoundedPredsCache keeps its guarded lock methods).


class LitGemmaApp(lit_app.LitApp):
  """LIT's app with short error answers and file access kept in data_root.

  Attributes:
    lms: the loaded `GemmaLM`s by model name (set by `build_app`).
    warm_up_thread: the background warm-up, if one was started.
    team_mode: whether the endpoints in team.BLOCKED_ENDPOINTS answer 403.
  """

  def __init__(self, *args, data_root: str | None = None,
               team_mode: bool = False,
               max_request_bytes: int = team.DEFAULT_MAX_REQUEST_BYTES,
               # hostile-clients hook: bounds and the host guard.
               max_request_inputs: int = 256,
               preds_cache_mb: int = bounded_cache.DEFAULT_MAX_MB,
               allowed_hosts: Sequence[str] = (),
               listen_host: str = "127.0.0.1", **kw):
    # hostile-clients hook
    self._max_request_inputs = max_request_inputs
    self.preds_store = bounded_cache.PredictionStore(preds_cache_mb << 20)
    self.host_guard = host_guard.HostGuard(
        team_mode=team_mode, listen_host=listen_host,
        allowed_hosts=allowed_hosts)
    self._data_root = data_root
    self.team_mode = team_mode
    self._max_request_bytes = max_request_bytes
    self._client_root = kw.get("client_root") or _default_client_root()
    self.lms: dict[str, Any] = {}
    self.warm_up_thread: threading.Thread | None = None
    super().__init__(*args, **kw)
    # hostile-clients hook: content-keyed, bounded predictions (LIT builds
    # its caching wrappers itself).
    for model in self._models.values():
      bounded_cache.install(model, self.preds_store)

  # hostile-clients hook: the bounds and checks below (request_checks.py).
  MAX_SAVED_DATAPOINT_SETS = 16

  def max_request_inputs(self) -> int:
    """The most inputs a request may have: never fewer than the largest
    dataset has examples."""
    return max([self._max_request_inputs,
                *(len(d) for d in self._datasets.values())])

  def _build_metadata(self):
    return public_info.scrubbed(super()._build_metadata())

  def _refuse_in_team_mode(self, path: str) -> None:
    if self.team_mode and path in team.BLOCKED_ENDPOINTS + (
        "/post_new_data",):
      team.refuse(path)

  def _post_new_data(self, data, dataset_name=None, **kw):
    answer = super()._post_new_data(data, dataset_name=dataset_name, **kw)
    with self._saved_datapoints_lock:
      bounded_cache.keep_newest(self._saved_datapoints,
                                self.MAX_SAVED_DATAPOINT_SETS)
    return answer

  def _saved_set(self, saved_datapoints_id: str | None) -> None:
    with self._saved_datapoints_lock:
      if saved_datapoints_id not in self._saved_datapoints:
        raise request_checks.NotServed(
            f"no saved datapoints with id "
            f"{request_checks.shown(saved_datapoints_id)}")

  def _fetch_new_data(self, data, saved_datapoints_id=None, **kw):
    self._saved_set(saved_datapoints_id)
    return super()._fetch_new_data(
        data, saved_datapoints_id=saved_datapoints_id, **kw)

  def _remove_new_data(self, data, saved_datapoints_id=None, **kw):
    self._saved_set(saved_datapoints_id)
    return super()._remove_new_data(
        data, saved_datapoints_id=saved_datapoints_id, **kw)

  def _push_ui_state(self, data, dataset_name=None, **kw):
    if self.ui_state_tracker is None:
      raise request_checks.NotServed(
          "/push_ui_state is only served to a notebook's LIT widget")
    return super()._push_ui_state(data, dataset_name=dataset_name, **kw)

  def _get_metrics(self, data, **kw):
    if not data.get("inputs"):
      raise request_checks.BadRequest("/get_metrics needs at least one input")
    return super()._get_metrics(data, **kw)

  def ready(self) -> bool:
    """Whether the background warm-up (if any) is done."""
    return self.warm_up_thread is None or not self.warm_up_thread.is_alive()

  def make_handler(self, fn):
    """LIT's handler for `fn`, answering exceptions with one short line."""
    # hostile-clients hook: request_checks' shim instead of LIT's.
    handler = request_checks.make_handler(
        self, fn, max_inputs=self.max_request_inputs,
        before=self._refuse_in_team_mode)

    @functools.wraps(handler)
    def guarded(app, request, environ):
      request_id = _request_id(environ)
      try:
        return handler(app, request, environ)
      except team.EndpointBlocked as e:
        logging.warning("%s blocked [request %s]", request.path, request_id)
        return _error_response(app, request, 403, str(e),
                               f"{request.path} is blocked")
      except user_errors() as e:
        logging.warning("%s refused [request %s]: %s", request.path,
                        request_id, _one_line(e)[:300])
        # hostile-clients hook: 404 for names this server does not have.
        return _error_response(app, request, getattr(e, "http_status", 400),
                               str(e), f"{request.path} refused the request")
      except Exception:  # pylint: disable=broad-except
        logging.exception("%s failed [request %s]", request.path, request_id)
        return _error_response(app, request, 500, INTERNAL_ERROR,
                               f"{request.path} failed; the traceback is in "
                               "the server log")

    return guarded

  def _refusal(self, environ) -> tuple[str, str, str] | None:
    """(status, message, details) for a request answered before LIT sees
    it: a body over the limit, or a static path outside the client
    folder; else None."""
    try:
      team.bound_body(environ, self._max_request_bytes)
    except team.BodyTooLarge as e:
      return "413 REQUEST ENTITY TOO LARGE", str(e), "the body was not read"
    # The path LIT's static-file handler would open (see lit_nlp.lib.wsgi_app).
    path = urllib.parse.urlparse(wrappers.Request(environ).path).path
    # hostile-clients hook: host names, cross-site requests, methods, forms.
    api = path.rstrip("/") in self._handler_paths
    refused = self.host_guard.refusal(environ, api)
    if refused is not None:
      return refused
    refused = request_checks.refused_method(environ, api)
    if refused is not None:
      return refused
    if api or path in ("", "/", "/index.html"):
      return None
    if "\0" in path:
      return "404 NOT FOUND", "not found", "the path holds a NUL byte"
    try:
      inside = team.inside(self._client_root, path)
    except ValueError:  # A NUL byte: LIT's handler fails, the last guard
      return None       # answers with a short 500.
    # hostile-clients hook: a missing file gets the short 404 too.
    if not inside or not os.path.isfile(
        os.path.join(self._client_root, path.lstrip("/"))):
      return "404 NOT FOUND", "not found", f"{path} is not a file LIT serves"
    return None

  @functools.cached_property
  def _handler_paths(self) -> frozenset[str]:
    return frozenset(self._wsgi_app._handlers)  # pylint: disable=protected-access

  def __call__(self, environ, start_response):
    """Gives the request an id, refuses what LIT must not see, and, last
    guard, replaces a 5xx answer made by LIT itself (its static-file
    handler returns tracebacks) by a short one."""
    request_id = uuid.uuid4().hex[:12]
    environ[_REQUEST_ID] = request_id
    id_header = (REQUEST_ID_HEADER, request_id)

    def short_answer(status: str, message: str, details: str):
      text = _error_text(message, details, request_id).encode()
      start_response(status, [
          ("Content-Type", "text/plain; charset=utf-8"),
          ("Content-Length", str(len(text))), (ERROR_HEADER, "1"), id_header])
      return [text]

    refusal = self._refusal(environ)
    if refusal is not None:
      logging.warning("%s answered %s [request %s]: %s",
                      environ.get("PATH_INFO"), refusal[0], request_id,
                      refusal[1])
      return short_answer(*refusal)

    answer = []

    def remember(status, headers, exc_info=None):
      del exc_info
      answer[:] = [status, headers]
      return lambda unused_data: None

    body = super().__call__(environ, remember)
    status, headers = answer
    ours = any(k.lower() == ERROR_HEADER.lower() for k, _ in headers)
    if not status.startswith("5") or ours:
      start_response(status, [*headers, id_header])
      return body
    if hasattr(body, "close"):
      body.close()
    logging.error("%s answered %s; replaced by a short message [request %s]",
                  environ.get("PATH_INFO"), status, request_id)
    return short_answer("500 INTERNAL SERVER ERROR", INTERNAL_ERROR,
                        f"{environ.get('PATH_INFO', '')} failed")

  # The endpoints below are LIT's, narrowed.

  def _create_model(self, *unused_args, **unused_kw):
    if self.team_mode:
      team.refuse("/create_model")
    raise RequestRefused(
        "loading models from the UI is disabled; restart the server with "
        "--models=NAME:SOURCE")

  def _create_dataset(self, *args, **kw):
    if self.team_mode:
      team.refuse("/create_dataset")
    return super()._create_dataset(*args, **kw)

  def _lit_file_under_root(self, path: str | None) -> str:
    """The `.lit.jsonl` file LIT's datapoint endpoints use for `path`,
    resolved inside data_root, its `.spec` file too; else an error."""
    if not path:
      raise RequestRefused("the request needs a path")
    ext = lit_dataset.LIT_FILE_EXTENSION
    resolved = resolve_under(path if path.endswith(ext) else path + ext,
                             self._data_root)
    if not resolved.endswith(ext):
      raise RequestRefused(f"{path}: a link to a file not named *{ext}")
    resolve_under(resolved + lit_dataset.LIT_SPEC_EXTENSION, self._data_root)
    return resolved

  def _save_datapoints(self, data, dataset_name=None, path=None, **kw):
    if self.team_mode:
      team.refuse("/save_datapoints")
    return super()._save_datapoints(
        data, dataset_name=dataset_name,
        path=self._lit_file_under_root(path), **kw)

  def _load_datapoints(self, data, dataset_name=None, path=None, **kw):
    if self.team_mode:
      team.refuse("/load_datapoints")
    return super()._load_datapoints(
        data, dataset_name=dataset_name,
        path=self._lit_file_under_root(path), **kw)


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


# TensorFlow (keras-hub's tokenizers use it, on CPU) also reports that it
# found no CUDA driver: noise, since the models run on JAX. SentencePiece
# says the Gemma tokenizer has no normalizer (it has none by design).
_NATIVE_CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I0000 00:00:"
    r"|E0000 00:00:\S+ +\d+ cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|normalizer\.cc\(\d+\) LOG\(INFO\) precompiled_charsmap is empty)")


@contextlib.contextmanager
def native_chatter_dropped() -> Iterator[None]:
  """Drops the INFO lines that TensorFlow's and XLA's native code write
  straight to file descriptor 2 while they are imported (absl C++ logging
  before it is initialized); every other line is passed on."""
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError):  # No real stderr (some notebooks).
    yield
    return
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      for line in capture.read().decode(errors="replace").splitlines(True):
        if not _NATIVE_CHATTER.match(line):
          sys.stderr.write(line)
      sys.stderr.flush()


def import_model_stack():
  """Imports Keras, keras-hub and JAX (seconds) and lit-gemma's model code."""
  with native_chatter_dropped():
    # pylint: disable=g-import-not-at-top
    from lit_gemma import lm as lm_lib
    from lit_gemma import models as models_lib
    from lit_gemma import response_cache as response_cache_lib
    from lit_gemma import sources as sources_lib
    from lit_gemma.salience import compilation
    # pylint: enable=g-import-not-at-top
  return lm_lib, models_lib, response_cache_lib, sources_lib, compilation


def load_datasets(config: ServerConfig) -> dict[str, lit_dataset.Dataset]:
  """The configured datasets, in order; DataError on bad input."""
  loaded = {}
  for name, path in config.dataset_entries:
    loaded[name] = datasets_lib.load(path, name=name,
                                     max_examples=config.max_examples)
    logging.info("%s: dataset %s: %d examples from %s", PROG, name,
                 len(loaded[name]), path)
  return loaded


def load_models(config: ServerConfig, lms: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
  """A `GemmaLM` per configured model name (a source given twice is loaded
  once); entries of `lms` are used as they are."""
  lm_lib, _, _, sources_lib, _ = import_model_stack()
  lms = dict(lms or {})
  for _, source in config.models:
    sources_lib.resolve(source)  # Refuse a bad source before any loading.
  by_source: dict[str, Any] = {}
  loaded = {}
  for name, source in config.models:
    if name in lms:
      loaded[name] = lms[name]
      continue
    if source not in by_source:
      logging.info("%s: loading model %s from %s (%s)...", PROG, name, source,
                   config.precision)
      start = time.monotonic()
      by_source[source] = lm_lib.GemmaLM.load(
          source, precision=config.precision,
          kept_bytes=config.salience_cache_mb << 20)
      logging.info("%s: model %s loaded in %.1f s", PROG, name,
                   time.monotonic() - start)
    loaded[name] = by_source[source]
  return loaded


def _warm_up_lengths(config: ServerConfig, lm, dataset) -> list[int]:
  """Token counts a first click is likely to use: prompt + target, or
  prompt + a full response when there is no target, most common bucket
  first."""
  from lit_gemma.salience import buckets  # pylint: disable=g-import-not-at-top

  counts: collections.Counter[int] = collections.Counter()
  for ex in dataset.examples:
    prompt = ex.get("prompt", "")
    target = ex.get("target") or ex.get("response") or ""
    length = len(lm.encode(prompt + target))
    if not target:
      length += config.max_new_tokens
    length = min(length, config.max_length)
    if length >= 3:
      counts[buckets.sequence_bucket(length)] += 1
  return [bucket for bucket, _ in counts.most_common(WARM_UP_BUCKETS)]


def warm_up(name: str, lm, lengths: Sequence[int]) -> None:
  """Compiles (or loads from JAX's disk cache) the salience programs a
  first click on a text of each length uses: a fresh text, then another
  span of the same text. Logs and swallows errors: it is only a speed-up."""
  try:
    filler = lm.encode("a")[-1]
    for length in lengths:
      start = time.monotonic()
      ids = [lm.bos_id] + [filler] * (length - 1)
      for position in (length - 1, length - 2):
        mask = [0.0] * length
        mask[position] = 1.0
        lm.engine.salience([ids], [mask])
      logging.info("%s: warm-up: %s salience ready for %d-token texts "
                   "(%.1f s)", PROG, name, length, time.monotonic() - start)
  except Exception:  # pylint: disable=broad-except
    logging.exception("%s: warm-up of %s failed (requests still work)", PROG,
                      name)


def build_app(config: ServerConfig, *, lms: Mapping[str, Any] | None = None,
              response_cache=None) -> LitGemmaApp:
  """Loads what `config` names and builds the LIT app (a WSGI app).

  Args:
    config: the server settings.
    lms: already loaded `GemmaLM`s by model name (a notebook's, a test's);
      other configured models are loaded here.
    response_cache: a `ResponseCache`; default: the one under
      $LIT_GEMMA_CACHE.

  Returns:
    The app; `serve()` serves it, gunicorn can serve it directly.

  Raises:
    DataError, SourceError, ConfigError: bad input, one-line messages.
  """
  datasets = load_datasets(config)
  _, models_lib, response_cache_lib, _, compilation = import_model_stack()
  compilation.enable_persistent_cache()
  loaded = load_models(config, lms)
  if response_cache is None:
    response_cache = response_cache_lib.ResponseCache()
  settings = models_lib.GroupSettings(
      max_length=config.max_length, max_new_tokens=config.max_new_tokens,
      batch_size=config.batch_size)
  lit_models = {}
  for name, _ in config.models:
    group = models_lib.model_group(name, loaded[name], settings,
                                   response_cache)
    group[name] = _ProgressLogged(group[name], name, config.batch_size)
    lit_models.update(group)

  options = {"client_root": _default_client_root(),
             "onboard_start_doc": _SPLASH_DOC} | dict(config.lit_options)
  options.pop("data_dir", None)
  if config.team_mode:
    options["demo_mode"] = True
  app = LitGemmaApp(
      lit_models, datasets,
      layouts=layouts.LAYOUTS,
      model_loaders={},
      dataset_loaders=({} if config.team_mode else
                       datasets_lib.dataset_loaders(config.data_root)),
      data_root=config.data_root,
      team_mode=config.team_mode,
      max_request_bytes=config.max_request_bytes,
      # hostile-clients hook: bounds, host names, bounded LIT components.
      max_request_inputs=config.max_request_inputs,
      preds_cache_mb=config.preds_cache_mb,
      allowed_hosts=config.allowed_hosts,
      listen_host=config.host,
      generators=bounded_components.generators(config.team_mode),
      metrics=bounded_components.metrics(),
      page_title=config.page_title,
      default_layout=config.default_layout,
      **options,
  )
  app.lms = loaded
  if config.warm_up and datasets:
    first = next(iter(datasets.values()))
    jobs, seen = [], set()
    for name, lm in loaded.items():  # Models sharing a source warm once.
      if id(lm) not in seen:
        seen.add(id(lm))
        jobs.append((name, lm, _warm_up_lengths(config, lm, first)))
    def warm_up_all():
      start = time.monotonic()
      for job in jobs:
        warm_up(*job)
      logging.info("%s: warm-up done (%.1f s)", PROG,
                   time.monotonic() - start)

    app.warm_up_thread = threading.Thread(
        target=warm_up_all, name="lit-gemma-warm-up", daemon=True)
    app.warm_up_thread.start()
  return app


# ------------------------------------------------------------- serving


def make_server(app, host: str = "127.0.0.1", port: int = 0):
  """A threaded werkzeug server for `app` (port 0: a free one), not yet
  serving: call `serve_forever()`, and `shutdown()` from another thread.

  One thread per request, so a long generation for the data table does not
  hold up a salience click (the model serializes its own work).
  """
  from werkzeug import serving  # pylint: disable=g-import-not-at-top

  family = socket.AF_INET6 if ":" in host else socket.AF_INET
  try:
    listener = socket.create_server((host, port), family=family)
  except OSError as e:
    raise ConfigError(
        f"cannot listen on {host}:{port}: {e.strerror or e}") from None
  server = serving.make_server(host, listener.getsockname()[1], app,
                               threaded=True, fd=listener.fileno(),
                               # hostile-clients hook: timeouts, no versions.
                               request_handler=connections.Handler)
  listener.close()  # The server holds its own duplicate of the socket.
  return server


def _stop_on_sigterm() -> None:
  """SIGTERM (a container's or a test's stop) stops like Ctrl+C."""
  def stop(signum, frame):
    del signum, frame
    raise KeyboardInterrupt
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, stop)


def serve(app, host: str, port: int) -> None:
  """Serves `app` until Ctrl+C or SIGTERM."""
  server = make_server(app, host, port)
  _stop_on_sigterm()
  shown = f"[{host}]" if ":" in host else host
  logging.info("%s: serving http://%s:%d (Ctrl+C stops)", PROG, shown,
               server.port)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    logging.info("%s: stopped", PROG)
  finally:
    server.server_close()


def _fail(message: str) -> None:
  print(f"{PROG}: {_one_line(message)}", file=sys.stderr, flush=True)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parser, but a bad flag is one line on stderr and exit 2."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _fail(str(e))
    sys.exit(2)


def main(argv: Sequence[str]) -> int:
  """`launch.py`: build the app from flags and serve it."""
  if len(argv) > 1:
    _fail(f"unexpected arguments {' '.join(argv[1:])!r}; flags start with --")
    return 2
  server_type = flags.FLAGS.server_type
  try:
    if server_type not in ("default", "basic", "prebake"):
      raise ConfigError(
          f"--server_type={server_type}: launch.py serves with 'default' or "
          f"runs start-up work with 'prebake'; gunicorn uses "
          f"lit_gemma.server:get_wsgi_app()")
    config = ServerConfig.from_flags()
    app = build_app(config)
    if server_type == "prebake":
      if app.warm_up_thread is not None:
        app.warm_up_thread.join()
      logging.info("%s: start-up work done (prebake); exiting", PROG)
      return 0
    serve(app, config.host, config.port)
  except user_errors() as e:
    _fail(str(e))
    return 1
  except KeyboardInterrupt:
    _fail("interrupted during start-up")
    return 130
  except Exception as e:  # pylint: disable=broad-except
    logging.debug("start-up failed", exc_info=True)
    first = (str(e).strip().splitlines() or [""])[0]
    _fail(f"start-up failed: {type(e).__name__}: {first} (run with "
          f"--verbosity=1 to see the traceback)")
    return 1
  return 0


def get_wsgi_app() -> startup.StartingApp:
  """The app for gunicorn (`lit_gemma.server:get_wsgi_app()`).

  Configured by the lit-gemma flags in $LIT_GEMMA_FLAGS and then in sys.argv
  (gunicorn's own are ignored; a flag given in both: sys.argv wins). Bad
  flags stop it at once with one line; the app itself is built in the
  background while /health answers 503 (see startup.py).
  """
  try:
    env_flags = shlex.split(os.environ.get(FLAGS_ENV, ""))
  except ValueError as e:
    raise SystemExit(f"{PROG}: ${FLAGS_ENV}: {e}") from None
  try:
    flags.FLAGS([sys.argv[0], *env_flags, *sys.argv[1:]], known_only=True)
    config = ServerConfig.from_flags()
  except (flags.Error, *user_errors()) as e:
    raise SystemExit(f"{PROG}: {_one_line(e)}") from None
  # As launch.py logs under absl.app.run: INFO lines (loading, warm-up) on
  # stderr, unless --verbosity says otherwise.
  logging.use_absl_handler()
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.INFO)
  if not config.team_mode:
    logging.warning("%s: serving without --team_mode: anyone who can reach "
                    "this server can use every LIT endpoint", PROG)
  return startup.StartingApp(lambda: build_app(config),
                             ready=LitGemmaApp.ready, name=PROG)
