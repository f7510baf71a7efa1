"""A real local server and a real team server against careless and hostile
clients (issue 12): every mistake a clear 4xx in one line, one log line for
it, no client changing what another sees, every store and bound held.

Each case of `CASES` is sent to the servers it names; each bound is tried
at its edge (just under: served; just over: refused).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import time

import pytest

import framing
from http_helpers import assert_short_error
from http_helpers import send as _send
from lit_gemma.lit import caching
from lit_gemma.lit import components
from lit_gemma.serve import connections
from lit_gemma.web import finite_json
from served import PROMPTS
from served import server_config
from served import served as _served

MAX_LENGTH = 2048      # Long enough to reach ROUGE's bound.
MAX_BYTES = 64 << 10   # --max_request_bytes of both servers.
LOCAL_INPUTS = 4       # --max_request_inputs (the dataset has 3 examples).
TEAM_INPUTS = 2        # Below the dataset's 3: the bound becomes 3.
MARKER = "zqxj"        # In long inputs: must never reach the log.


class _Records(logging.Handler):
  def __init__(self):
    super().__init__()
    self.lines: list[str] = []

  def emit(self, record):
    self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def log_lines():
  handler = _Records()
  logger = logging.getLogger("absl")
  logger.addHandler(handler)
  yield handler.lines
  logger.removeHandler(handler)


@pytest.fixture(scope="module")
def servers(tiny_preset, tiny_lm, prompts_file, tmp_path_factory, log_lines):
  from lit_gemma.lit import response_cache  # pylint: disable=g-import-not-at-top

  tmp = tmp_path_factory.mktemp("hostile")
  root = tmp / "data_root"
  root.mkdir()
  common = dict(max_length=MAX_LENGTH, max_request_bytes=MAX_BYTES,
                preds_cache_mb=1)
  local_config = server_config(
      tiny_preset, prompts_file, data_root=str(root),
      max_request_inputs=LOCAL_INPUTS,
      allowed_hosts=("lit.example.com", "*.corp.example"), **common)
  team_config = server_config(tiny_preset, prompts_file, team_mode=True,
                        max_request_inputs=TEAM_INPUTS, **common)
  cache = response_cache.ResponseCache(tmp / "responses.sqlite")
  with _served(local_config, lms={"tiny": tiny_lm},
               response_cache=cache) as local, _served(
                   team_config, lms={"tiny": tiny_lm},
                   response_cache=cache) as team:
    ids = [ex["id"] for ex in _send(local, "GET", "/get_dataset",
                                    "dataset_name=prompts")[2]]
    yield {"local": local, "team": team, "ids": ids}


def _example(prompt="The capital of France is", target=" Paris.", **fields):
  data = {"prompt": prompt, "target": target, **fields}
  data["_id"] = "new-" + str(abs(hash(json.dumps(data, sort_keys=True))))
  return {"id": data["_id"], "data": data, "meta": {"added": True}}


def _words(n, word="w"):
  return " ".join([word] * n)


PREDS = "model=tiny&dataset_name=prompts"
TOKENIZE = "model=_tiny_tokenizer&dataset_name=prompts"
SALIENCE = "model=_tiny_salience&dataset_name=prompts"
INTERP = "model=tiny&dataset_name=prompts&interpreter="
GEN = "model=tiny&dataset_name=prompts&generator="
METRICS = "model=tiny&dataset_name=prompts&metrics="


def _with_mask(mask):
  return {"inputs": [_example(target_mask=mask)]}


def _n_inputs(n):
  return {"inputs": [_example(prompt=f"p{i}") for i in range(n)]}


def _body_of(size):
  """A /get_info body of exactly `size` bytes."""
  pad = size - len(json.dumps({"config": {"pad": ""}}))
  return json.dumps({"config": {"pad": "x" * pad}})


# (name, servers, method, path, query, body, headers, status, message regex)
# servers: "local", "team" or "both"; body: an object, text or bytes.
BOTH, LOCAL, TEAM = "both", "local", "team"
CASES = [
    # --- the body
    ("not json", BOTH, "POST", "/get_preds", PREDS, "{", None, 400,
     r"the body is not JSON: Expecting property name .*\(line 1 column 2\)"),
    ("truncated json", BOTH, "POST", "/get_preds", PREDS, '{"inputs": [',
     None, 400, r"the body is not JSON: .*"),
    ("not utf-8", BOTH, "POST", "/get_preds", PREDS, b"\xff\xfe{}", None, 400,
     r"the body is not UTF-8 text \(byte 0\)"),
    ("latin-1 prompt", LOCAL, "POST", "/get_preds", PREDS,
     b'{"inputs": ["caf\xe9"]}', None, 400,
     r"the body is not UTF-8 text \(byte 16\)"),
    ("body a list", BOTH, "POST", "/get_preds", PREDS, [], None, 400,
     r"the body must be a JSON object, not a list"),
    ("body a string", BOTH, "POST", "/get_preds", PREDS, '"hi"', None, 400,
     r"the body must be a JSON object, not a string"),
    ("body a number", LOCAL, "POST", "/get_preds", PREDS, "5", None, 400,
     r"the body must be a JSON object, not a number"),
    ("body null", LOCAL, "POST", "/get_preds", PREDS, "null", None, 400,
     r"/get_preds needs \"inputs\" in the body"),
    ("no body", BOTH, "POST", "/get_preds", PREDS, None, None, 400,
     r"/get_preds needs \"inputs\" in the body"),
    ("NaN", BOTH, "POST", "/get_preds", PREDS, '{"inputs": [NaN]}', None, 400,
     r"the body holds NaN, which is not a JSON number"),
    ("Infinity", BOTH, "POST", "/get_preds", PREDS, '{"x": -Infinity}', None,
     400, r"the body holds -Infinity, which is not a JSON number"),
    ("1e999", BOTH, "POST", "/get_preds", PREDS, '{"x": 1e999}', None, 400,
     r"the number 1e999 is too large"),
    ("huge integer", LOCAL, "POST", "/get_preds", PREDS,
     '{"x": ' + "9" * 5000 + "}", None, 400, r"the body is not .*"),
    ("deep nesting", BOTH, "POST", "/get_preds", PREDS, "[" * 60000, None, 400,
     r"the body nests too deep"),
    ("bad LitType", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [], "x": {"__name__": "Bogus"}}, None, 400,
     r"the body is not LIT's JSON: .*"),
    ("bad ndarray", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [], "x": {"__class__": "np.ndarray"}}, None, 400,
     r"the body is not LIT's JSON: .*"),
    ("inputs a number", BOTH, "POST", "/get_preds", PREDS, {"inputs": 5},
     None, 400, r"\"inputs\" must be a list, not a number"),
    ("inputs an object", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": {"a": 1}}, None, 400, r"\"inputs\" must be a list, not an object"),
    ("input a number", BOTH, "POST", "/get_preds", PREDS, {"inputs": [7]},
     None, 400, r"inputs\[0\] must be an id or an object, not a number"),
    ("input null", LOCAL, "POST", "/get_preds", PREDS, {"inputs": [None]},
     None, 400, r"inputs\[0\] must be an id or an object, not null"),
    ("config a list", BOTH, "POST", "/get_preds", PREDS,
     {"inputs": [], "config": [1]}, None, 400,
     r"\"config\" must be an object, not a list"),
    # --- query parameters
    ("no model", BOTH, "POST", "/get_preds", "dataset_name=prompts",
     {"inputs": []}, None, 400, r"/get_preds needs the query parameter model"),
    ("empty model", LOCAL, "POST", "/get_preds", "model=", {"inputs": []},
     None, 400, r"/get_preds needs the query parameter model"),
    ("unknown model", BOTH, "POST", "/get_preds", "model=nope",
     {"inputs": []}, None, 404, r"no model named 'nope'; this server has .*"),
    ("unknown dataset", BOTH, "POST", "/get_preds",
     "model=tiny&dataset_name=nope", {"inputs": []}, None, 404,
     r"no dataset named 'nope'"),
    ("get_dataset unknown", BOTH, "POST", "/get_dataset", "dataset_name=x",
     None, None, 404, r"no dataset named 'x'"),
    ("get_dataset no name", BOTH, "POST", "/get_dataset", "", None, None, 400,
     r"/get_dataset needs the query parameter dataset_name"),
    ("unknown parameter", BOTH, "POST", "/get_preds", PREDS + "&foo=1",
     {"inputs": []}, None, 400,
     r"/get_preds takes no query parameter 'foo'; it takes .*"),
    ("predict kwarg", BOTH, "POST", "/get_preds",
     PREDS + "&progress_indicator=x", {"inputs": []}, None, 400,
     r"/get_preds takes no query parameter 'progress_indicator'.*"),
    ("repeated parameter", BOTH, "POST", "/get_preds",
     PREDS + "&model=_tiny_tokenizer", {"inputs": []}, None, 400,
     r"query parameter model is given 2 times"),
    ("bad boolean", LOCAL, "POST", "/get_interpretations",
     INTERP + "pca&do_predict=maybe", {"inputs": []}, None, 400,
     r"query parameter do_predict='maybe': expected 0 or 1"),
    ("bad simple_json", LOCAL, "POST", "/get_info", "response_simple_json=x",
     None, None, 400, r"query parameter response_simple_json='x'.*"),
    ("unknown LIT type", BOTH, "POST", "/get_preds",
     PREDS + "&requested_types=Bogus", {"inputs": []}, None, 400,
     r"requested_types: 'Bogus' is not a LIT type"),
    ("not a LIT type", LOCAL, "POST", "/get_preds",
     PREDS + "&requested_types=Optional", {"inputs": []}, None, 400,
     r"requested_types: 'Optional' is not a LIT type"),
    ("no interpreter", BOTH, "POST", "/get_interpretations",
     "model=tiny&dataset_name=prompts", {"inputs": []}, None, 400,
     r"/get_interpretations needs the query parameter interpreter"),
    ("unknown interpreter", BOTH, "POST", "/get_interpretations",
     INTERP + "nope", {"inputs": []}, None, 404,
     r"no interpreter named 'nope'"),
    ("interpreter not for model", LOCAL, "POST", "/get_interpretations",
     "model=_tiny_tokenizer&dataset_name=prompts&interpreter=pca",
     {"inputs": []}, None, 400,
     r"interpreter pca needs a config whose field_name is one of \[\] "
     r"\(model _tiny_tokenizer\)"),
    ("pca, bad field", LOCAL, "POST", "/get_interpretations", INTERP + "pca",
     {"inputs": [], "config": {"field_name": "nope"}}, None, 400,
     r"interpreter pca needs a config whose field_name is one of "
     r"\['prompt_embeddings', 'response_embeddings'\] \(model tiny\)"),
    ("pca, other proj_kw", LOCAL, "POST", "/get_interpretations",
     INTERP + "pca", {"inputs": [], "config": {
         "field_name": "prompt_embeddings", "proj_kw": {"n_components": 4}}},
     None, 400, r"interpreter pca: proj_kw must be \{'n_components': 3\}.*"),
    ("pca, extra config", LOCAL, "POST", "/get_interpretations",
     INTERP + "pca", {"inputs": [], "config": {
         "field_name": "prompt_embeddings", "seed": 1}}, None, 400,
     r"interpreter pca: config takes no 'seed'; it takes .*"),
    ("no generator", BOTH, "POST", "/get_generated",
     "model=tiny&dataset_name=prompts", {"inputs": []}, None, 400,
     r"/get_generated needs the query parameter generator"),
    ("unknown generator", BOTH, "POST", "/get_generated", GEN + "nope",
     {"inputs": []}, None, 404, r"no generator named 'nope'"),
    ("generator not for model", BOTH, "POST", "/get_generated",
     GEN + "Hotflip", {"inputs": []}, None, 400,
     r"generator 'Hotflip' does not apply to model tiny"),
    ("word replacer in team", TEAM, "POST", "/get_generated",
     GEN + "Word%20Replacer", {"inputs": []}, None, 404,
     r"no generator named 'Word Replacer'"),
    ("unknown metric", BOTH, "POST", "/get_metrics", METRICS + "nope",
     {"inputs": [_example()]}, None, 404, r"no metrics named 'nope'"),
    ("metric not for model", BOTH, "POST", "/get_metrics",
     METRICS + "multiclass", {"inputs": [_example()]}, None, 400,
     r"metrics 'multiclass' does not apply to model tiny"),
    ("metrics no inputs", BOTH, "POST", "/get_metrics", METRICS + "bleu",
     {"inputs": []}, None, 400, r"/get_metrics needs at least one input"),
    ("long name", LOCAL, "POST", "/get_preds", "model=" + "m" * 5000,
     {"inputs": []}, None, 404, r"no model named 'm{60}\.\.\.'; .*"),
    # --- inputs
    ("unknown id", BOTH, "POST", "/get_preds", PREDS, {"inputs": ["nope"]},
     None, 400, r"inputs\[0\]: dataset prompts has no example with id 'nope'"),
    ("bare id, no dataset", BOTH, "POST", "/get_preds", "model=tiny",
     {"inputs": ["abc"]}, None, 400,
     r"inputs\[0\] is a bare id; send dataset_name too"),
    ("ids differ", BOTH, "POST", "/get_preds", PREDS,
     {"inputs": [{"id": "a", "data": {"prompt": "x", "_id": "b"}}]}, None, 400,
     r"inputs\[0\]: id 'a' differs from data._id 'b'"),
    ("no data", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [{"id": "a"}]}, None, 400,
     r"inputs\[0\].data must be an object, not null"),
    ("data a string", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [{"id": "a", "data": "x"}]}, None, 400,
     r"inputs\[0\].data must be an object, not a string"),
    ("prompt a number", BOTH, "POST", "/get_preds", PREDS,
     {"inputs": [_example(prompt=5)]}, None, 400,
     r"inputs\[0\].data.prompt must be a string, not a number"),
    ("prompt a list", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [_example(prompt=["a"])]}, None, 400,
     r"inputs\[0\].data.prompt must be a string, not a list"),
    ("target an object", BOTH, "POST", "/get_preds", TOKENIZE,
     {"inputs": [_example(target={"a": 1})]}, None, 400,
     r"inputs\[0\].data.target must be a string, not an object"),
    ("response true", BOTH, "POST", "/get_preds", PREDS,
     {"inputs": [_example(response=True)]}, None, 400,
     r"inputs\[0\].data.response must be a string, not true/false"),
    ("_id a number", LOCAL, "POST", "/get_preds", "model=tiny",
     {"inputs": [{"id": 1, "data": {"prompt": "x", "_id": 1}}]}, None, 400,
     r"inputs\[0\].data._id must be a string"),
    ("meta a list", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [dict(_example(), meta=[1])]}, None, 400,
     r"inputs\[0\].meta must be an object"),
    ("_meta a string", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [_example(_meta="x")]}, None, 400,
     r"inputs\[0\].data._meta must be an object"),
    ("tokens not strings", LOCAL, "POST", "/get_preds", PREDS,
     {"inputs": [_example(tokens=[1, 2])]}, None, 400,
     r"inputs\[0\].data.tokens must be a list of strings"),
    ("mask 1e39", BOTH, "POST", "/get_preds", SALIENCE, _with_mask([1e39]),
     None, 400,
     r"inputs\[0\].data.target_mask\[0\] is '1e\+39'; expected a number "
     r"from 0 to 1"),
    ("mask NaN", BOTH, "POST", "/get_preds", SALIENCE,
     '{"inputs": [{"id": "a", "data": {"prompt": "x", "_id": "a", '
     '"target_mask": [NaN]}}]}', None, 400, r"the body holds NaN, .*"),
    ("mask negative", LOCAL, "POST", "/get_preds", SALIENCE,
     _with_mask([-1]), None, 400, r".*target_mask\[0\] is '-1'; .*"),
    ("mask 2", LOCAL, "POST", "/get_preds", SALIENCE, _with_mask([0, 2]),
     None, 400, r".*target_mask\[1\] is '2'; .*"),
    ("mask a string", LOCAL, "POST", "/get_preds", SALIENCE,
     _with_mask(["1"]), None, 400, r".*target_mask\[0\] is '1'; .*"),
    ("mask true", LOCAL, "POST", "/get_preds", SALIENCE, _with_mask([True]),
     None, 400, r".*target_mask\[0\] is 'true'; .*"),
    ("mask a number", LOCAL, "POST", "/get_preds", SALIENCE, _with_mask(1),
     None, 400, r".*target_mask must be a list of numbers"),
    ("mask wrong length", BOTH, "POST", "/get_preds", SALIENCE,
     _with_mask([1]), None, 400,
     r"target_mask has 1 entries but prompt \+ target has \d+ tokens"),
    # --- bounds
    ("inputs at bound", LOCAL, "POST", "/get_preds", TOKENIZE,
     _n_inputs(LOCAL_INPUTS), None, 200, None),
    ("inputs over bound", LOCAL, "POST", "/get_preds", TOKENIZE,
     _n_inputs(LOCAL_INPUTS + 1), None, 400,
     r"the request has 5 inputs, over the limit of 4 \(--max_request_inputs\)"),
    ("team inputs: dataset size", TEAM, "POST", "/get_preds", TOKENIZE,
     _n_inputs(len(PROMPTS)), None, 200, None),
    ("team inputs over dataset size", TEAM, "POST", "/get_preds", TOKENIZE,
     _n_inputs(len(PROMPTS) + 1), None, 400,
     r"the request has 4 inputs, over the limit of 3 .*"),
    ("body at bound", BOTH, "POST", "/get_info", "", _body_of(MAX_BYTES),
     None, 200, None),
    ("body over bound", BOTH, "POST", "/get_info", "", _body_of(MAX_BYTES + 1),
     None, 413, r"request body is 65537 bytes, over the limit of 65536 "
     r"bytes \(--max_request_bytes\)"),
    # --- team mode
    ("post_new_data in team", TEAM, "POST", "/post_new_data",
     "dataset_name=prompts", {"inputs": [{"prompt": "x"}]}, None, 403,
     r"/post_new_data is disabled on this team server .*"),
    ("create_dataset in team", TEAM, "POST", "/create_dataset", "", None, None,
     403, r"/create_dataset is disabled on this team server .*"),
    ("create_model in team", TEAM, "POST", "/create_model", "x=1", None, None,
     403, r"/create_model is disabled .*"),
    ("save in team", TEAM, "POST", "/save_datapoints", "", None, None, 403,
     r"/save_datapoints is disabled .*"),
    ("load in team", TEAM, "POST", "/load_datapoints", "", None, None, 403,
     r"/load_datapoints is disabled .*"),
    # --- other endpoints
    ("create_dataset no config", LOCAL, "POST", "/create_dataset",
     "dataset_name=prompt_file", None, None, 400,
     r"/create_dataset needs a config with a new_name"),
    ("create_dataset unknown loader", LOCAL, "POST", "/create_dataset",
     "dataset_name=prompts", {"config": {"new_name": "x"}}, None, 404,
     r"no dataset named 'prompts'"),
    ("create_dataset no path", LOCAL, "POST", "/create_dataset",
     "dataset_name=prompt_file", {"config": {"new_name": "x"}}, None, 400,
     r"config missing required params: \['path'\]"),
    ("create_dataset extra key", LOCAL, "POST", "/create_dataset",
     "dataset_name=prompt_file",
     {"config": {"new_name": "x", "path": "a", "evil": 1}}, None, 400,
     r"config received unsupported params: \['evil'\]"),
    ("create_dataset path a number", LOCAL, "POST", "/create_dataset",
     "dataset_name=prompt_file", {"config": {"new_name": "x", "path": 5}},
     None, 400, r"config.path must be a string"),
    ("create_dataset max a string", LOCAL, "POST", "/create_dataset",
     "dataset_name=prompt_file",
     {"config": {"new_name": "x", "path": "a", "max_examples": "5"}}, None,
     400, r"config.max_examples must be a whole number"),
    ("fetch unknown", BOTH, "POST", "/fetch_new_data",
     "saved_datapoints_id=nope", None, None, 404,
     r"no saved datapoints with id 'nope'"),
    ("remove unknown", BOTH, "POST", "/remove_new_data",
     "saved_datapoints_id=nope", None, None, 404,
     r"no saved datapoints with id 'nope'"),
    ("fetch no id", LOCAL, "POST", "/fetch_new_data", "", None, None, 400,
     r"/fetch_new_data needs the query parameter saved_datapoints_id"),
    ("push_ui_state", BOTH, "POST", "/push_ui_state", "dataset_name=prompts",
     {"inputs": []}, None, 404,
     r"/push_ui_state is only served to a notebook's LIT widget"),
    ("save no path", LOCAL, "POST", "/save_datapoints", "dataset_name=prompts",
     {"inputs": []}, None, 400,
     r"/save_datapoints needs the query parameter path"),
    ("load no dataset", LOCAL, "POST", "/load_datapoints", "path=x", None,
     None, 400, r"/load_datapoints needs the query parameter dataset_name"),
    ("post_new_data bad prompt", LOCAL, "POST", "/post_new_data",
     "dataset_name=prompts", {"inputs": [{"prompt": 1}]}, None, 400,
     r"inputs\[0\].prompt must be a string, not a number"),
    # --- methods, content types, paths
    ("PUT", BOTH, "PUT", "/get_info", "", None, None, 405,
     r"PUT is not served here"),
    ("DELETE", BOTH, "DELETE", "/get_preds", "", None, None, 405,
     r"DELETE is not served here"),
    ("OPTIONS preflight", BOTH, "OPTIONS", "/get_preds", "", None,
     {"Origin": None}, 405, r"OPTIONS is not served here"),
    ("POST to a file", LOCAL, "POST", "/", "", None, None, 405,
     r"POST is not served here"),
    ("form body", BOTH, "POST", "/get_preds", PREDS, "inputs=1",
     {"Content-Type": "application/x-www-form-urlencoded"}, 415,
     r"a application/x-www-form-urlencoded body is not read here"),
    ("multipart body", LOCAL, "POST", "/get_preds", PREDS, "--x--",
     {"Content-Type": "multipart/form-data; boundary=x"}, 415,
     r"a multipart/form-data body is not read here"),
    ("json content type", BOTH, "POST", "/get_preds", TOKENIZE,
     {"inputs": [_example()]}, {"Content-Type": "application/json"}, 200,
     None),
    ("no content type", LOCAL, "POST", "/get_preds", TOKENIZE,
     {"inputs": [_example()]}, {"Content-Type": None}, 200, None),
    ("NUL path", BOTH, "GET", "/%00", "", None, None, 404, r"not found"),
    ("dotdot path", BOTH, "GET", "/../../etc/passwd", "", None, None, 404,
     r"not found"),
    ("static dotdot", BOTH, "GET", "/static/../../../app.py", "", None, None,
     404, r"not found"),
    ("missing file", BOTH, "GET", "/static/nope.js", "", None, None, 404,
     r"not found"),
    ("a folder", BOTH, "GET", "/static", "", None, None, 404, r"not found"),
    # --- host names and sites
    ("foreign host", LOCAL, "POST", "/get_info", "", None,
     {"Host": "evil.example:5432"}, 421,
     r"this server does not serve the host name 'evil.example'"),
    ("foreign host, static", LOCAL, "GET", "/", "", None,
     {"Host": "rebound.example"}, 421, r".*host name 'rebound.example'"),
    ("localhost", LOCAL, "POST", "/get_info", "", None,
     {"Host": "localhost:1"}, 200, None),
    ("::1", LOCAL, "POST", "/get_info", "", None, {"Host": "[::1]:1"}, 200,
     None),
    ("allowed host", LOCAL, "POST", "/get_info", "", None,
     {"Host": "lit.example.com"}, 200, None),
    ("allowed wildcard", LOCAL, "POST", "/get_info", "", None,
     {"Host": "a.b.corp.example:80"}, 200, None),
    ("wildcard's parent", LOCAL, "POST", "/get_info", "", None,
     {"Host": "corp.example"}, 421, r".*host name 'corp.example'"),
    ("suffix trick", LOCAL, "POST", "/get_info", "", None,
     {"Host": "evilcorp.example"}, 421, r".*host name 'evilcorp.example'"),
    ("team any host", TEAM, "POST", "/get_info", "", None,
     {"Host": "lit-abc-uc.a.run.app"}, 200, None),
    ("cross-site origin", BOTH, "POST", "/get_preds", TOKENIZE,
     {"inputs": [_example()]}, {"Origin": "https://evil.example"}, 403,
     r"requests from the page 'https://evil.example' are refused"),
    ("null origin", BOTH, "POST", "/get_info", "", None, {"Origin": "null"},
     403, r"requests from the page 'null' are refused"),
    ("sec-fetch cross-site", BOTH, "POST", "/get_info", "", None,
     {"Sec-Fetch-Site": "cross-site"}, 403,
     r"requests from another site are refused"),
    ("sec-fetch same-site", BOTH, "POST", "/get_info", "", None,
     {"Sec-Fetch-Site": "same-site"}, 403,
     r"requests from another site are refused"),
    ("sec-fetch same-origin", BOTH, "POST", "/get_info", "", None,
     {"Sec-Fetch-Site": "same-origin"}, 200, None),
    ("sec-fetch none", BOTH, "POST", "/get_info", "", None,
     {"Sec-Fetch-Site": "none"}, 200, None),
    ("cross-site link to the UI", BOTH, "GET", "/", "", None,
     {"Sec-Fetch-Site": "cross-site"}, 200, None),
    ("listed origin", LOCAL, "POST", "/get_info", "", None,
     {"Origin": "https://lit.example.com"}, 200, None),
    ("listed origin, team", TEAM, "POST", "/get_info", "", None,
     {"Origin": "https://lit.example.com"}, 403, r"requests from the page .*"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case(servers, log_lines, case):
  name, where, method, path, query, body, headers, status, message = case
  for kind in ("local", "team") if where == BOTH else (where,):
    served = servers[kind]
    before = len(log_lines)
    got, answer_headers, answer = _send(served, method, path, query, body,
                                        headers)
    assert got == status, (kind, answer)
    assert answer_headers["Server"] == connections.SERVER_NAME
    if status == 200:
      continue
    assert_short_error(answer)
    line = answer.partition("\n\nDetails:")[0]
    assert re.fullmatch(message, line), (kind, line)
    request_id = answer_headers["X-Request-Id"]
    mine = [l for l in log_lines[before:] if f"request {request_id}" in l]
    assert len(mine) == 1, (kind, mine)
    assert "\n" not in mine[0] and "Traceback" not in mine[0]
    assert len(mine[0]) < 500, mine[0]


# ------------------------------------------------ bounds at their edges


def _refused(served, log_lines, answer, headers, message):
  """`answer` is the one-line refusal `message`, logged in one short line
  that does not quote the long input."""
  assert_short_error(answer)
  assert re.fullmatch(message, answer.partition("\n\nDetails:")[0]), answer
  mine = [l for l in log_lines if f"request {headers['X-Request-Id']}" in l]
  assert len(mine) == 1 and MARKER not in mine[0] and len(mine[0]) < 500


@pytest.mark.parametrize("kind", ["local", "team"])
def test_tokens_bound_prompt_target_and_given_response(servers, log_lines,
                                                       kind):
  served = servers[kind]
  # "x" * n is n tokens after BOS; the bound counts BOS.
  at = MAX_LENGTH - 1
  status, _, answer = _send(served, "POST", "/get_preds", TOKENIZE,
                            {"inputs": [_example("x" * (at - 4), "x" * 4)]})
  assert status == 200 and len(answer[0]["tokens"]) == at
  status, headers, answer = _send(
      served, "POST", "/get_preds", TOKENIZE,
      {"inputs": [_example(MARKER + "x" * (at - 4), "x")]})
  assert status == 400
  _refused(served, log_lines, answer, headers,
           rf"prompt \+ target is {MAX_LENGTH + 1} tokens, over the limit of "
           rf"{MAX_LENGTH} \(--max_length\)")
  # A given response skips generation but is embedded: bounded the same.
  status, _, answer = _send(served, "POST", "/get_preds", PREDS,
                            {"inputs": [_example("x", "", response="x" * (
                                at - 1))]})
  assert status == 200 and answer[0]["response"] == "x" * (at - 1)
  status, headers, answer = _send(
      served, "POST", "/get_preds", PREDS,
      {"inputs": [_example("x", "", response=MARKER + "x" * at)]})
  assert status == 400
  _refused(served, log_lines, answer, headers,
           r"prompt \+ response is \d+ tokens, over the limit of "
           rf"{MAX_LENGTH} \(--max_length\)")


def test_word_replacer_output_bound(servers, log_lines):
  served = servers["local"]
  text = " ".join(["a"] * 1024)  # 1024 matches, each a copy of 2047 chars.
  per_input = 1024 * len(text)
  limit = components.WORD_REPLACER_MAX_BYTES
  assert 2 * per_input <= limit < 3 * per_input
  config = {"Substitutions": "a -> b", "Fields to replace": ["prompt"]}
  query = GEN + "Word%20Replacer"
  status, _, answer = _send(served, "POST", "/get_generated", query, {
      "inputs": [_example(text, f" {i}") for i in range(2)],
      "config": config})
  assert status == 200 and [len(a) for a in answer] == [1024, 1024]
  status, headers, answer = _send(served, "POST", "/get_generated", query, {
      "inputs": [_example(text, f" {i}") for i in range(3)],
      "config": config})
  assert status == 400
  _refused(served, log_lines, answer, headers,
           rf"Word Replacer output is over {limit} characters; use shorter "
           r"texts or fewer substitutions")


@pytest.mark.parametrize("kind", ["local", "team"])
def test_rouge_bound(servers, log_lines, kind):
  served = servers[kind]
  words = 1000
  assert words * words == components.ROUGE_MAX_PAIR
  target = " " + _words(words, "a")

  def rouge(response_words):
    return _send(served, "POST", "/get_metrics", METRICS + "rouge", {
        "inputs": [_example("q", target,
                            response=" " + _words(response_words, "a"))]})

  status, _, answer = rouge(words)
  assert status == 200
  assert answer["rouge"][0]["metrics"]["rougeL"] == pytest.approx(1.0)
  status, headers, answer = rouge(words + 1)
  assert status == 400
  _refused(served, log_lines, answer, headers,
           r"ROUGE of a 1000-word reference and a 1001-word prediction is "
           r"over 1000000 word pairs")


@pytest.mark.parametrize("kind", ["local", "team"])
def test_chunked_body_is_counted_as_it_is_read(servers, kind):
  served = servers[kind]

  def chunked(size):
    body = _body_of(size).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4096]),
                                         body[i:i + 4096])
                      for i in range(0, len(body), 4096))
    return framing.send(served.url, "Transfer-Encoding: chunked\r\n",
                        chunks + b"0\r\n\r\n", False)

  assert chunked(MAX_BYTES)[0] == 200
  status, _, reply = chunked(MAX_BYTES + 1)
  assert status == 413, reply[:300]
  assert "over the limit of 65536 bytes" in reply


@pytest.mark.parametrize("kind", ["local", "team"])
@pytest.mark.parametrize("case", framing.CASES, ids=framing.IDS)
def test_conflicting_or_malformed_framing(servers, log_lines, kind, case):
  """Issue 27: the last hostile request that got a 500."""
  _, headers, body, half_close, message, _ = case
  before = len(log_lines)
  status, answer_headers, answer = framing.send(servers[kind].url, headers,
                                                body, half_close)
  assert status == 400, answer
  assert answer_headers["Server"] == connections.SERVER_NAME
  assert_short_error(answer)
  assert re.fullmatch(message, answer.partition("\n\nDetails:")[0]), answer
  request_id = answer_headers["X-Request-Id"]
  mine = [l for l in log_lines[before:] if f"request {request_id}" in l]
  assert len(mine) == 1 and "Traceback" not in mine[0], mine


def test_idle_connection_is_dropped(servers, monkeypatch):
  monkeypatch.setattr(connections.Handler, "timeout", 1)
  host, port = servers["local"].url.removeprefix("http://").split(":")
  with socket.create_connection((host, int(port)), timeout=10) as conn:
    start = time.monotonic()
    conn.sendall(b"POST /get_info HTTP/1.1\r\nHost: localhost\r\n")  # Stalls.
    assert conn.recv(1024) == b""  # The server closed it.
    assert time.monotonic() - start < 5


def test_post_new_data_is_bounded_locally(servers):
  app = servers["local"].app
  ids = []
  for i in range(app.max_saved_datapoint_sets + 1):
    status, _, answer = _send(servers["local"], "POST", "/post_new_data",
                              "dataset_name=prompts",
                              {"inputs": [{"prompt": f"p{i}", "target": ""}]})
    assert status == 200, answer
    ids.append(answer["load"].partition("=")[2])
  assert len(app._saved_datapoints) == app.max_saved_datapoint_sets  # pylint: disable=protected-access
  status, _, _ = _send(servers["local"], "POST", "/fetch_new_data",
                       f"saved_datapoints_id={ids[0]}")
  assert status == 404  # The oldest was dropped.
  status, _, answer = _send(servers["local"], "POST", "/fetch_new_data",
                            f"saved_datapoints_id={ids[-1]}")
  assert status == 200 and answer[0]["data"]["prompt"] == f"p{len(ids) - 1}"


# ----------------------------------------- stores, tampering, answers


@pytest.mark.parametrize("kind", ["local", "team"])
def test_no_client_changes_what_another_sees(servers, kind):
  served, real_id = servers[kind], servers["ids"][0]
  real = PROMPTS[0]
  forged = {"id": real_id, "data": dict(real, response="FORGED", _id=real_id),
            "meta": {"added": True}}
  status, _, answer = _send(served, "POST", "/get_preds", PREDS,
                            {"inputs": [forged]})
  assert status == 200 and answer[0]["response"] == "FORGED"  # Its own.
  status, _, answer = _send(served, "POST", "/get_preds", PREDS,
                            {"inputs": [real_id]})
  assert status == 200 and answer[0]["response"] != "FORGED"
  # Tokens: another prompt under the real id.
  fake = {"id": real_id, "data": {"prompt": "FAKE", "_id": real_id},
          "meta": {"added": True}}
  assert _send(served, "POST", "/get_preds", TOKENIZE,
               {"inputs": [fake]})[0] == 200
  status, _, answer = _send(served, "POST", "/get_preds", TOKENIZE,
                            {"inputs": [real_id]})
  assert "".join(answer[0]["tokens"]).replace("\u2581", " ") == (
      real["prompt"] + real["target"])


def test_prediction_store_stays_within_its_bounds(servers):
  app = servers["local"].app
  store = app.preds_store
  assert store.max_bytes == 1 << 20
  for round_ in range(12):  # ~12 x 4 x 130 KB of tokens: over 1 MiB.
    status, _, _ = _send(servers["local"], "POST", "/get_preds", TOKENIZE, {
        "inputs": [_example(f"{round_} {i} " + "x" * 1900)
                   for i in range(LOCAL_INPUTS)]})
    assert status == 200
    assert store.nbytes <= store.max_bytes
  assert 0 < len(store) < 12 * LOCAL_INPUTS
  # The count bound, at its edge.
  small = caching.PredictionStore(max_bytes=1 << 20, max_entries=3)
  for i in range(3):
    small.put(i, {"tokens": ["a"]})
  assert len(small) == 3 and small.get(0) is not None  # 0 is now newest.
  small.put(3, {"tokens": ["b"]})
  assert len(small) == 3 and small.get(1) is None and small.get(0)
  too_big = caching.PredictionStore(max_bytes=100)
  too_big.put("k", {"tokens": ["x" * 200]})
  assert len(too_big) == 0 and too_big.nbytes == 0


@pytest.mark.parametrize("kind", ["local", "team"])
def test_info_names_no_server_paths(servers, prompts_file, tiny_preset,
                                    kind):
  status, headers, answer = _send(servers[kind], "POST", "/get_info")
  text = json.dumps(answer)
  assert status == 200 and headers["Server"] == "lit-gemma"
  assert str(prompts_file.parent) not in text
  assert str(tiny_preset.parent) not in text
  assert "prompts.jsonl" in answer["datasets"]["prompts"]["description"]


def test_answers_are_finite_json():
  text, nulled = finite_json.dumps({"a": [1.0, float("nan"), float("inf")]})
  assert nulled and json.loads(text) == {"a": [1.0, None, None]}
  assert finite_json.dumps({"a": 1.5}) == ('{"a": 1.5}', False)


def test_ui_requests_still_served(servers):
  """What LIT's client sends on page load and a salience click."""
  served, ids = servers["local"], servers["ids"]
  assert _send(served, "GET", "/")[0] == 200
  assert _send(served, "GET", "/index.html")[0] == 200
  assert _send(served, "POST", "/get_preds",
               PREDS + "&requested_types=GeneratedText&requested_fields=",
               {"inputs": ids})[0] == 200
  status, _, answer = _send(served, "POST", "/get_preds", SALIENCE,
                            {"inputs": [ids[0]]})
  assert status == 200 and len(answer[0]["grad_l2"]) == len(
      answer[0]["tokens"])
  assert _send(served, "POST", "/get_metrics", METRICS,
               {"inputs": ids})[0] == 200
  assert _send(served, "POST", "/get_interpretations",
               INTERP + "pca&do_predict=1", {"inputs": ids, "config": {
                   "dataset_name": "prompts", "model_name": "tiny",
                   "field_name": "prompt_embeddings", "use_input": False,
                   "proj_kw": {"n_components": 3}}})[0] == 200
