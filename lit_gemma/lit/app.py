"""The LIT app lit-gemma serves: LIT's own, with short error answers, no
model loaders, and file access kept inside --data_root.

What `LitGemmaApp` adds to LIT's app:
  - Errors never carry a traceback to the browser. Every endpoint answers an
    exception with one short line (the message of a `UserError` such as a
    prompt over --max_length, else "internal error, see the server log")
    in the form LIT's client shows in its status bar, and the request id
    under which the server log has the details (also in the X-Request-Id
    header of every answer). A last guard rewrites any 5xx answer LIT makes
    itself.
  - No model loaders: the UI cannot load a model from a path or URL.
  - The UI's dataset loader, /save_datapoints and /load_datapoints only
    touch files under --data_root (all of them are refused without it).
  - Request bodies are bounded (413) and static files must resolve inside
    LIT's client folder; --team_mode (a shared server, see web/limits.py) also
    answers 403 to every endpoint that loads or touches files, and to
    /post_new_data.
  - Every request is checked before LIT runs it (web/request_checks.py): a
    client mistake is a 400/404/405/415 with one line, never a 500; only
    the hosts it serves and same-site requests are answered
    (web/host_guard.py); predictions are cached by content in one bounded store
    (caching.py); numbers in answers are finite JSON; /get_info names
    no server folders (web/public_info.py).
  - With a findings store, every dataset has `note` and `author` fields, a
    datapoint added with a note is kept as a finding, and the `findings`
    dataset lists them (lit/findings.py).
LIT's private members are reached only through `internals.LitAppHooks`.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Sequence
import urllib.parse
import uuid
from typing import Any

from absl import logging
from lit_nlp.api import dataset as lit_dataset
from werkzeug import wrappers

from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.lit import caching
from lit_gemma.lit import findings
from lit_gemma.models import gate
from lit_gemma.web import body as request_body
from lit_gemma.web import host_guard
from lit_gemma.lit import internals
from lit_gemma.lit import offline_fonts
from lit_gemma.lit import progress_bar
from lit_gemma.web import public_info
from lit_gemma.web import request_checks
from lit_gemma.web import limits
from lit_gemma.prompts.files import resolve_under

INTERNAL_ERROR = "internal error, see the server log"
# Marks answers made by the error guards, so the last guard leaves them be.
ERROR_HEADER = "X-Lit-Gemma-Error"
# Every answer carries the id its log lines are written under.
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = "lit_gemma.request_id"  # The WSGI environ key.
# The request being answered in this thread, for hooks LIT calls without it.
_ENVIRON: contextvars.ContextVar[dict] = contextvars.ContextVar("environ")


def one_line(text: Any) -> str:
  """`text` with every run of whitespace (newlines too) as one space."""
  return " ".join(str(text).split())


def _request_id(environ) -> str:
  return environ.get(_REQUEST_ID, "-")


def error_text(message: str, details: str, request_id: str) -> str:
  """What LIT's client shows: one line, then "Details:" (with the id)."""
  return (f"{one_line(message)}\n\nDetails: {one_line(details)} "
          f"(request id {request_id})")


def _error_response(app, request, code: int, message: str, details: str):
  """A short text answer in the form LIT's client puts in its status bar
  (the text before "Details:"), marked so the last guard keeps it."""
  body = error_text(message, details, _request_id(request.environ))
  response = app.respond(request, body, "text/plain", code)
  response.headers[ERROR_HEADER] = "1"
  return response


class LitGemmaApp(internals.LitAppHooks):
  """LIT's app with short error answers and file access kept in data_root.

  Attributes:
    lms: the loaded `GemmaLM`s by model name (set by `build_app`).
    team_mode: whether the endpoints in team.BLOCKED_ENDPOINTS answer 403.
    findings_desk: keeps findings (None: no findings store).
  """

  # Most /post_new_data sets kept (LIT's UI never posts any).
  max_saved_datapoint_sets = 16

  def __init__(self, models, datasets, *, data_root: str | None = None,
               team_mode: bool = False,
               findings_store=None, iap_verifier=None,
               max_request_bytes: int = limits.DEFAULT_MAX_REQUEST_BYTES,
               max_request_inputs: int = 256,
               preds_cache_mb: int = caching.DEFAULT_MAX_MB,
               allowed_hosts: Sequence[str] = (),
               listen_host: str = "127.0.0.1", **kw):
    self._max_request_inputs = max_request_inputs
    self.host_guard = host_guard.HostGuard(
        team_mode=team_mode, listen_host=listen_host,
        allowed_hosts=allowed_hosts)
    self._data_root = data_root
    self.team_mode = team_mode
    self._max_request_bytes = max_request_bytes
    self._client_root = kw.get("client_root") or internals.lit_client_root()
    self.lms: dict[str, Any] = {}
    self.preds_store = caching.PredictionStore(preds_cache_mb << 20)
    self.findings_desk = None
    if findings_store is not None:
      self.findings_desk = findings.FindingsDesk(
          findings_store, iap_verifier, self._tokens_of)
      kept = self.findings_desk.dataset()
      datasets = {name: findings.WithNoteFields(ds)
                  for name, ds in datasets.items()} | {findings.DATASET: kept}
      kw["live_datasets"] = {findings.DATASET: kept}
    super().__init__(models, datasets, prediction_store=self.preds_store,
                     **kw)

  def max_request_inputs(self) -> int:
    """The most inputs a request may have: never fewer than the largest
    dataset has examples (so the data table fills)."""
    return max([self._max_request_inputs,
                *(len(d) for d in self.lit_datasets.values())])

  def public_metadata(self, info: dict) -> dict:
    return public_info.scrubbed(info)

  def _tokens_of(self, model: str, example: dict) -> list[str]:
    """The tokens LIT's UI shows for `example` on model `model`."""
    tokenizer = self.lit_models[fields.tokenizer_name(model)]
    return list(tokenizer.predict([example]))[0][fields.TOKENS]

  def new_datapoints(self, dataset_name: str, inputs: list[dict]) -> None:
    if self.findings_desk is not None:
      self.findings_desk.new_datapoints(dataset_name, inputs,
                                        _ENVIRON.get({}))

  def predictions_served(self, model: str, inputs: list[dict]) -> None:
    if self.findings_desk is not None:
      self.findings_desk.salience_served(model, inputs, _ENVIRON.get({}))

  def _refuse_in_team_mode(self, path: str) -> None:
    if self.team_mode and path in limits.BLOCKED_ENDPOINTS + (
        "/post_new_data",):
      limits.refuse(path)

  # ------------------------------------------------- LIT's endpoints, narrowed

  def refuse_model_loading(self) -> None:
    if self.team_mode:
      limits.refuse("/create_model")
    raise errors.RequestError(
        "loading models from the UI is disabled; restart the server with "
        "--models=NAME:SOURCE")

  def check_dataset_loading(self) -> None:
    if self.team_mode:
      limits.refuse("/create_dataset")

  def datapoints_path(self, endpoint: str, path: str | None) -> str:
    """The `.lit.jsonl` file LIT's datapoint endpoints use for `path`,
    resolved inside data_root, its `.spec` file too; else an error."""
    if self.team_mode:
      limits.refuse(endpoint)
    if not path:
      raise errors.RequestError("the request needs a path")
    ext = lit_dataset.LIT_FILE_EXTENSION
    resolved = resolve_under(path if path.endswith(ext) else path + ext,
                             self._data_root)
    if not resolved.endswith(ext):
      raise errors.RequestError(f"{path}: a link to a file not named *{ext}")
    resolve_under(resolved + lit_dataset.LIT_SPEC_EXTENSION, self._data_root)
    return resolved

  # ---------------------------------------------------------- error answers

  def make_handler(self, fn):
    """LIT's handler for `fn`, answering exceptions with one short line."""
    # Checks every request before LIT's endpoint runs (LIT's own shim trusts
    # the request: its mistakes end as 500s).
    handler = request_checks.make_handler(
        self, fn, max_inputs=self.max_request_inputs,
        before=self._refuse_in_team_mode)

    @functools.wraps(handler)
    def guarded(app, request, environ):
      request_id = _request_id(environ)
      try:
        return handler(app, request, environ)
      except limits.EndpointBlocked as e:
        logging.warning("%s blocked [request %s]", request.path, request_id)
        return _error_response(app, request, 403, str(e),
                               f"{request.path} is blocked")
      except errors.UserError as e:
        logging.warning("%s refused [request %s]: %s", request.path,
                        request_id, one_line(e)[:300])
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
    it: a body over the limit or badly framed, or a static path outside
    the client folder; else None."""
    try:
      request_body.read_whole(environ, self._max_request_bytes)
    except request_body.BodyTooLarge as e:
      return "413 REQUEST ENTITY TOO LARGE", str(e), "the body was not read"
    except request_body.BadFraming as e:
      return "400 BAD REQUEST", str(e), "the body's framing is invalid"
    # The path LIT's static-file handler would open (see lit_nlp.lib.wsgi_app).
    path = urllib.parse.urlparse(wrappers.Request(environ).path).path
    api = path.rstrip("/") in self.handler_paths
    refused = (self.host_guard.refusal(environ, api)
               or request_checks.refused_method(environ, api))
    if refused is not None:
      return refused
    if api or offline_fonts.serves(path):
      return None
    if "\0" in path:
      return "404 NOT FOUND", "not found", "the path holds a NUL byte"
    if not limits.inside(self._client_root, path) or not os.path.isfile(
        os.path.join(self._client_root, path.lstrip("/"))):
      return "404 NOT FOUND", "not found", f"{path} is not a file LIT serves"
    return None

  @functools.cached_property
  def handler_paths(self) -> frozenset[str]:
    return super().handler_paths

  def __call__(self, environ, start_response):
    """Gives the request an id, refuses what LIT must not see, and, last
    guard, replaces a 5xx answer made by LIT itself (its static-file
    handler returns tracebacks) by a short one."""
    request_id = uuid.uuid4().hex[:12]
    environ[_REQUEST_ID] = request_id
    _ENVIRON.set(environ)
    id_header = (REQUEST_ID_HEADER, request_id)

    def short_answer(status: str, message: str, details: str):
      text = error_text(message, details, request_id).encode()
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

    for client_file in (offline_fonts, progress_bar):
      served = client_file.answer(
          environ, lambda status, headers: start_response(
              status, [*headers, id_header]), self._client_root)
      if served is not None:
        return served

    answer = []

    def remember(status, headers, exc_info=None):
      del exc_info
      answer[:] = [status, headers]
      return lambda unused_data: None

    # A user request: background work waits until it (and the rest of its
    # click) is answered.
    with gate.foreground() as window:
      body = super().__call__(environ, remember)
    path = environ.get("PATH_INFO", "")
    status, headers = answer
    # A refusal has its one line already (`guarded`): one line per mistake.
    if path.rstrip("/") in self.handler_paths and status.startswith("2"):
      model = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get(
          "model", [""])[0]
      logging.info("lit-gemma: request %s%s answered %s [request %s]", path,
                   f" ({model})" if model else "", window.summary(),
                   request_id)
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
