"""What a request to a LIT endpoint must look like, checked before LIT runs.

LIT 1.3.1's handler trusts the request: a body that is not JSON, a prompt
that is not a string, an unknown model name or a missing query parameter
each end in a KeyError or TypeError deep inside LIT (a 500 and a traceback
in the log). `make_handler` replaces LIT's handler shim (parse the query
and the body, put dataset examples in place of bare ids, call the
endpoint, write JSON) with one that checks each step and raises
`BadRequest`, whose message says in one line what was wrong and where:
  - query parameters: only those the endpoint reads, each at most once;
    the ones it needs; names of models, datasets, generators, interpreters,
    metrics and LIT types that this server has (and that apply to the
    model);
  - the body: UTF-8 JSON, finite numbers, an object with a list of
    `inputs` (at most `max_inputs`, never fewer than the largest dataset)
    and an object `config`;
  - each input: a bare id of an example of the dataset, or an object whose
    `id` matches `data._id`; in `data`, texts are strings and a
    `target_mask` is a list of numbers from 0 to 1.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from absl import logging
from lit_nlp.api import types as lit_types
from lit_nlp.lib import utils as lit_utils

from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.web import finite_json

TEXT_FIELDS = (fields.PROMPT, fields.TARGET, fields.RESPONSE)
TARGET_MASK = fields.TARGET_MASK
TOKENS = fields.TOKENS
_SHOWN = 60  # Most characters of a client's value quoted back.

# Query parameters each endpoint reads (LIT's client sends these); needed
# ones first, then a "|" entry, then optional ones.
_PARAMS: Mapping[str, tuple[str, ...]] = {
    "/get_info": ("|",),
    "/get_dataset": ("dataset_name", "|"),
    "/create_dataset": ("dataset_name", "|"),
    "/create_model": ("|", "model_name"),
    "/get_generated": ("model", "dataset_name", "generator", "|"),
    "/save_datapoints": ("dataset_name", "path", "|"),
    "/load_datapoints": ("dataset_name", "path", "|"),
    "/annotate_new_data": ("dataset_name", "|"),
    "/post_new_data": ("dataset_name", "|"),
    "/fetch_new_data": ("saved_datapoints_id", "|"),
    "/remove_new_data": ("saved_datapoints_id", "|"),
    "/push_ui_state": ("dataset_name", "|"),
    "/get_preds": ("model", "|", "dataset_name", "requested_types",
                   "requested_fields"),
    "/get_interpretations": ("model", "dataset_name", "interpreter", "|",
                             "do_predict"),
    "/get_metrics": ("model", "dataset_name", "|", "metrics", "do_predict"),
}
_COMMON = ("response_simple_json",)
# LIT's required interpreters: its UI may ask them of any model.
_ANY_MODEL = ("classification", "regression")
_BOOLEANS = ("do_predict", "response_simple_json")
# Endpoints that read `inputs` from the body.
_READS_INPUTS = ("/get_generated", "/save_datapoints", "/annotate_new_data",
                 "/post_new_data", "/push_ui_state", "/get_preds",
                 "/get_interpretations", "/get_metrics")


class BadRequest(errors.RequestError):
  """A client mistake: answered with `http_status` and the message."""

  http_status = 400


class NotServed(BadRequest):
  """Something this server does not have or do (404)."""

  http_status = 404


def shown(value: Any) -> str:
  """A client's value, quoted and cut short for a message or a log line."""
  text = value if isinstance(value, str) else json.dumps(value)[:_SHOWN + 1]
  return repr(text[:_SHOWN] + ("..." if len(text) > _SHOWN else ""))


def _type_name(value: Any) -> str:
  return {dict: "an object", list: "a list", str: "a string", bool:
          "true/false", type(None): "null"}.get(type(value), "a number")


# ------------------------------------------------------------ the query


def _query(path: str, args) -> dict[str, str]:
  """The query parameters `path` reads, refused if unknown or repeated."""
  names = _PARAMS[path]
  needed = names[:names.index("|")]
  known = set(names) | set(_COMMON)
  kw = {}
  for name, values in args.lists():
    if name not in known:
      raise BadRequest(f"{path} takes no query parameter {shown(name)}; it "
                       f"takes {', '.join(sorted(known - {'|'}))}")
    if len(values) > 1:
      raise BadRequest(f"query parameter {name} is given {len(values)} times")
    kw[name] = values[0]
  for name in needed:
    if not kw.get(name) and not (name == "model" and dataset_projection(
        path, kw)):
      raise BadRequest(f"{path} needs the query parameter {name}")
  for name in _BOOLEANS:
    if name in kw and kw[name].lower() not in ("0", "1", "true", "false"):
      raise BadRequest(f"query parameter {name}={shown(kw[name])}: expected "
                       f"0 or 1")
  return kw


def _check_names(app, path: str, kw: Mapping[str, str]) -> None:
  """Every named model, dataset and component exists and applies."""
  models = app.lit_models
  info = app.lit_info
  if "model" in kw and kw["model"] not in models and not (
      dataset_projection(path, kw)):
    raise NotServed(f"no model named {shown(kw['model'])}; this server has "
                    f"{', '.join(sorted(models))}")
  datasets = (app.lit_dataset_loaders if path == "/create_dataset"
              else app.lit_datasets)
  if kw.get("dataset_name") and kw["dataset_name"] not in datasets:
    raise NotServed(f"no dataset named {shown(kw['dataset_name'])}")
  model_info = info["models"].get(kw.get("model"), {})
  for param, kind, every in (
      ("generator", "generators", app.lit_components("generators")),
      ("interpreter", "interpreters",
       app.lit_components("interpreters")),
      ("metrics", "metrics", app.lit_components("metrics"))):
    for name in filter(None, kw.get(param, "").split(",")):
      if name not in every:
        raise NotServed(f"no {param} named {shown(name)}")
      if (name not in model_info.get(kind, ()) and name not in _ANY_MODEL
          and not dataset_projection(path, kw)):
        raise BadRequest(f"{param} {shown(name)} does not apply to model "
                         f"{kw['model']}")
  for name in filter(None, kw.get("requested_types", "").split(",")):
    found = getattr(lit_types, name, None)
    if not (isinstance(found, type) and issubclass(found, lit_types.LitType)):
      raise BadRequest(f"requested_types: {shown(name)} is not a LIT type")


# ------------------------------------------------- method, content type

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def refused_method(environ: Mapping[str, Any], api: bool
                   ) -> tuple[str, str, str] | None:
  """(status, message, details) for a method or body kind LIT cannot
  read: 405 for methods other than GET/POST (GET/HEAD for files), 415 for
  a form body (werkzeug would parse it away; JSON sent as text/plain, as
  LIT's client sends it, is fine)."""
  method = environ.get("REQUEST_METHOD", "GET").upper()
  allowed = ("GET", "HEAD", "POST") if api else ("GET", "HEAD")
  if method not in allowed:
    return ("405 METHOD NOT ALLOWED", f"{method[:20]} is not served here",
            f"use {' or '.join(allowed)}")
  kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
  if api and kind in _FORMS:
    return ("415 UNSUPPORTED MEDIA TYPE", f"a {kind} body is not read here",
            "send the body as JSON")
  return None


# ------------------------------------------------------------- the body


def _body(request) -> Any:
  """The parsed JSON body (None if empty)."""
  raw = request.get_data(cache=True)
  if not raw:
    return None
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise BadRequest(f"the body is not UTF-8 text (byte {e.start})") from None
  try:
    return finite_json.loads(text)
  except finite_json.NotFinite as e:
    raise BadRequest(str(e)) from None
  except json.JSONDecodeError as e:
    raise BadRequest(f"the body is not JSON: {e.msg} (line {e.lineno} "
                     f"column {e.colno})") from None
  except RecursionError:
    raise BadRequest("the body nests too deep") from None
  except (ValueError, TypeError, KeyError) as e:  # LIT's own object hook.
    raise BadRequest(f"the body is not LIT's JSON: "
                     f"{str(e).splitlines()[0][:_SHOWN]}") from None


def check_data(data: Any, where: str) -> None:
  """An example's fields have the types the models read."""
  if not isinstance(data, dict):
    raise BadRequest(f"{where} must be an object, not {_type_name(data)}")
  for name in TEXT_FIELDS:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
      raise BadRequest(f"{where}.{name} must be a string, not "
                       f"{_type_name(value)}")
  if not isinstance(data.get("_id", ""), str):
    raise BadRequest(f"{where}._id must be a string")
  if not isinstance(data.get("_meta") or {}, dict):
    raise BadRequest(f"{where}._meta must be an object")
  mask = data.get(TARGET_MASK)
  if mask is not None:
    if not isinstance(mask, list):
      raise BadRequest(f"{where}.{TARGET_MASK} must be a list of numbers")
    for i, x in enumerate(mask):
      if isinstance(x, bool) or not isinstance(x, (int, float)) or not (
          0 <= x <= 1):
        raise BadRequest(f"{where}.{TARGET_MASK}[{i}] is {shown(x)}; expected "
                         f"a number from 0 to 1")
  tokens = data.get(TOKENS)
  if tokens is not None and not (isinstance(tokens, list) and all(
      isinstance(t, str) for t in tokens)):
    raise BadRequest(f"{where}.{TOKENS} must be a list of strings")


def _inputs(app, path: str, data: dict, kw: Mapping[str, str],
            max_inputs: int) -> None:
  """Checks data["inputs"] and puts dataset examples in for bare ids."""
  inputs = data.get("inputs")
  if inputs is None:
    if path in _READS_INPUTS:
      raise BadRequest(f"{path} needs \"inputs\" in the body")
    return
  if not isinstance(inputs, list):
    raise BadRequest(f"\"inputs\" must be a list, not {_type_name(inputs)}")
  if len(inputs) > max_inputs:
    raise BadRequest(f"the request has {len(inputs)} inputs, over the limit "
                     f"of {max_inputs} (--max_request_inputs)")
  if path == "/post_new_data":  # Plain examples, not indexed ones.
    for i, ex in enumerate(inputs):
      check_data(ex, f"inputs[{i}]")
    return
  dataset_name = kw.get("dataset_name")
  index = app.lit_datasets[dataset_name].index if dataset_name else {}
  for i, ex in enumerate(inputs):
    if isinstance(ex, str):
      if not dataset_name:
        raise BadRequest(f"inputs[{i}] is a bare id; send dataset_name too")
      if ex not in index:
        raise BadRequest(f"inputs[{i}]: dataset {dataset_name} has no example "
                         f"with id {shown(ex)}")
      inputs[i] = index[ex]
      continue
    if not isinstance(ex, dict):
      raise BadRequest(f"inputs[{i}] must be an id or an object, not "
                       f"{_type_name(ex)}")
    check_data(ex.get("data"), f"inputs[{i}].data")
    if dataset_name and ex.get("id") != ex["data"].get("_id"):
      raise BadRequest(f"inputs[{i}]: id {shown(ex.get('id'))} differs from "
                       f"data._id {shown(ex['data'].get('_id'))}")
    if not isinstance(ex.get("meta") or {}, dict):
      raise BadRequest(f"inputs[{i}].meta must be an object")


_PROJECTORS = ("pca", "umap")
_PROJECTION_KEYS = frozenset(("dataset_name", "model_name", "field_name",
                              "use_input", "proj_kw"))
_PROJECTION_KW = {"n_components": 3}


def dataset_projection(path: str, kw: Mapping[str, str]) -> bool:
  """A projection of a dataset's own Embeddings field (the data map's query
  vectors): LIT's Embeddings module sends it with an empty model."""
  return (path == "/get_interpretations" and kw.get("model") == ""
          and kw.get("interpreter") in _PROJECTORS)


def _embedding_fields(app, kw: Mapping[str, str]) -> tuple[list[str], str]:
  """The Embeddings fields a projection may read, and whose they are."""
  model, dataset = kw["model"], kw.get("dataset_name")
  spec = (app.lit_info["models"][model]["spec"]["output"] if model else
          app.lit_datasets[dataset].spec() if dataset else {})
  return sorted(k for k, v in spec.items() if isinstance(
      v, lit_types.Embeddings)), f"model {model}" if model else (
          f"dataset {dataset}")


def _check_projection(app, kw: Mapping[str, str], config: Any) -> None:
  """LIT's projectors read an embedding field of the model's output, or,
  with `use_input` and no model, of the dataset's own examples."""
  name = kw["interpreter"]
  config = config or {}
  field = config.get("field_name")
  if not kw["model"] and config.get("use_input") is not True:
    raise BadRequest(f"interpreter {name} without a model projects a "
                     "dataset field: the config needs use_input true")
  fields, whose = _embedding_fields(app, kw)
  if not isinstance(field, str) or field not in fields:
    raise BadRequest(f"interpreter {name} needs a config whose field_name is "
                     f"one of {fields} ({whose})")
  # LIT trains and keeps one projector per distinct config, for good: only
  # what its UI sends is served, so a client cannot grow that without bound.
  extra = sorted(set(config) - _PROJECTION_KEYS)
  if extra:
    raise BadRequest(f"interpreter {name}: config takes no {shown(extra[0])}"
                     f"; it takes {', '.join(sorted(_PROJECTION_KEYS))}")
  if config.get("proj_kw", _PROJECTION_KW) != _PROJECTION_KW:
    raise BadRequest(f"interpreter {name}: proj_kw must be {_PROJECTION_KW} "
                     f"(what LIT's UI sends)")
  if not isinstance(config.get("use_input", False), bool):
    raise BadRequest(f"interpreter {name}: use_input must be true or false")


def _check_projected_inputs(data: dict) -> None:
  """Each input of a dataset-field projection has the field, as numbers
  (a datapoint added before the annotator gave it one has not)."""
  field = data["config"]["field_name"]
  for i, ex in enumerate(data.get("inputs") or []):
    value = (ex.get("data") or {}).get(field) if isinstance(ex, dict) else 0
    if not isinstance(value, list) or not value or not all(isinstance(
        x, (int, float)) and not isinstance(x, bool) for x in value):
      raise BadRequest(f"inputs[{i}] has no {field} to project (a datapoint "
                       "the dataset's annotator has not seen)")


def _check_config(app, path: str, data: dict, kw: Mapping[str, str]) -> None:
  """`config` is an object; for /create_dataset, one its loader takes."""
  config = data.get("config")
  if config is not None and not isinstance(config, dict):
    raise BadRequest(f"\"config\" must be an object, not {_type_name(config)}")
  if path == "/get_interpretations" and kw.get("interpreter") in _PROJECTORS:
    _check_projection(app, kw, config)
  if path != "/create_dataset":
    return
  if not config or not isinstance(config.get("new_name"), str) or not (
      config["new_name"].strip()):
    raise BadRequest("/create_dataset needs a config with a new_name")
  _, spec = app.lit_dataset_loaders[kw["dataset_name"]]
  fields = {k: v for k, v in config.items() if k != "new_name"}
  try:
    lit_utils.validate_config_against_spec(fields, spec or {}, "config",
                                           raise_for_unsupported=True)
  except KeyError as e:
    raise BadRequest(str(e.args[0] if e.args else e)) from None
  for name, value in fields.items():
    field = spec[name]
    wanted = ((int,) if isinstance(field, lit_types.Integer) else
              (str,) if isinstance(field, lit_types.StringLitType) else None)
    if wanted and (isinstance(value, bool) or not isinstance(value, wanted)):
      raise BadRequest(f"config.{name} must be "
                       f"{'a whole number' if wanted == (int,) else 'a string'}")


# ------------------------------------------------------------ the shim


def make_handler(app, fn: Callable[..., Any], *, max_inputs: Callable[[], int],
                 before: Callable[[str], None] = lambda path: None):
  """`fn` (LIT's endpoint method) as a handler of (wsgi app, request,
  environ), every request checked first (BadRequest on a mistake).

  Args:
    app: the LitApp (its models, datasets and components are looked up).
    fn: the endpoint, `fn(data, **query)`.
    max_inputs: the most inputs a request may have, asked per request.
    before: called with the path first (raises to refuse it outright).
  """
  path = "/" + fn.__name__.lstrip("_")

  @functools.wraps(fn)
  def handler(wsgi, request, environ):
    del environ
    before(path)
    kw = _query(path, request.args)
    simple = lit_utils.coerce_bool(kw.pop("response_simple_json", True))
    _check_names(app, path, kw)
    data = _body(request)
    if data is not None and not isinstance(data, dict):
      raise BadRequest(f"the body must be a JSON object, not "
                       f"{_type_name(data)}")
    if data is None and (path in _READS_INPUTS or path == "/create_dataset"):
      data = {}
    if data is not None:
      _check_config(app, path, data, kw)
      _inputs(app, path, data, kw, max_inputs())
      if dataset_projection(path, kw):
        _check_projected_inputs(data)
    outputs = fn(data, **kw)
    body, nulled = finite_json.dumps(outputs, simple=simple)
    if nulled:
      logging.warning("%s: non-finite numbers in the answer were sent as "
                      "null", path)
    return wsgi.respond(request, body, "application/json", 200)

  return handler
