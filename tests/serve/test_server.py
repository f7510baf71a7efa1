"""The server as its users meet it: flags, start-up errors from `launch.py`,
and a real LIT server over HTTP (a tiny random Gemma 3 keeps it fast).

What each test guards: a refused start must say what to fix in one line; a
request must never show a Python traceback; the UI's dataset loader must not
read outside --data_root; a restart must not generate responses again; the
warm-up must make the first click compile nothing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import pathlib
import re
import signal
import sqlite3
import subprocess
import sys
import threading

from absl import flags
import pytest

from http_helpers import assert_short_error
from http_helpers import free_port
from http_helpers import new_input
from http_helpers import ok
from http_helpers import request
from http_helpers import wait_for_info
from lit_gemma.serve import build
from lit_gemma.serve import config_flags
from lit_gemma.serve import config as config_lib
from lit_gemma.lit import layouts
from lit_gemma.serve import dev_server
from lit_gemma.serve import entry
import repo
import served as served_lib

config_flags.define_flags()  # As launch.py does before parsing.

ROOT = repo.ROOT
PROMPTS = served_lib.PROMPTS
MAX_LENGTH = served_lib.MAX_LENGTH
MAX_NEW_TOKENS = served_lib.MAX_NEW_TOKENS
LAUNCH = str(ROOT / "launch.py")
# absl's log-line prefix (Python and native): everything else a failed start
# prints must be the one error line.
_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ ")

@pytest.fixture(scope="module")
def live(tiny_preset, tiny_lm, prompts_file, tmp_path_factory):
  """A real LIT server over the tiny model, with a data root."""
  from lit_gemma.lit import response_cache  # pylint: disable=g-import-not-at-top

  tmp = tmp_path_factory.mktemp("live")
  data_root = tmp / "data_root"
  data_root.mkdir()
  served_lib.write_jsonl(data_root / "extra.jsonl", [{"prompt": "Two plus two is"}])
  (tmp / "secret.jsonl").write_text('{"prompt": "outside the root"}\n')
  config = served_lib.server_config(tiny_preset, prompts_file, data_root=str(data_root))
  cache = response_cache.ResponseCache(tmp / "responses.sqlite")
  with served_lib.served(config, lms={"tiny": tiny_lm}, response_cache=cache) as s:
    s.data_root = data_root
    s.outside = tmp / "secret.jsonl"
    yield s


# ------------------------------------------------------- flags, config


def test_flags_fill_the_config():
  argv = ["launch.py", "--models=a:embedded,b:/models/gemma.gguf",
          "--datasets=x:/data/x.jsonl,/data/y.csv", "--max_examples=5",
          "--batch_size=2", "--max_length=512", "--max_new_tokens=32",
          "--precision=bfloat16", "--data_root=/tmp", "--nowarm_up",
          "--port=6000", "--demo_mode", "--salience_cache_mb=512",
          "--max_request_bytes=4096"]
  try:
    flags.FLAGS(argv)
    config = config_flags.config_from_flags()
  finally:
    flags.FLAGS.unparse_flags()
  assert config.models == (("a", "embedded"), ("b", "/models/gemma.gguf"))
  assert config.datasets == (("x", "/data/x.jsonl"), ("y", "/data/y.csv"))
  assert (config.max_examples, config.batch_size, config.max_length,
          config.max_new_tokens) == (5, 2, 512, 32)
  assert config.precision == "bfloat16" and config.data_root == "/tmp"
  assert not config.warm_up
  assert (config.host, config.port) == ("127.0.0.1", 6000)
  assert config.lit_options["demo_mode"] is True
  assert "data_dir" in config.lit_options  # LIT's, refused when set.
  assert config.salience_cache_mb == 512
  assert config.max_request_bytes == 4096 and not config.team_mode


def test_flag_defaults():
  try:
    flags.FLAGS(["launch.py"])
    config = config_flags.config_from_flags()
  finally:
    flags.FLAGS.unparse_flags()
  assert config.models == (("gemma", "embedded"),)
  assert config.datasets is None  # Every bundled set:
  from lit_gemma.lit import datasets  # pylint: disable=g-import-not-at-top
  assert [n for n, _ in config.dataset_entries] == list(datasets.BUNDLED_FILES)
  assert config.host == "127.0.0.1"
  assert config.page_title == "lit-gemma"
  assert config.default_layout == layouts.PROMPT_DEBUGGING
  assert config.data_root is None and config.warm_up


@pytest.mark.parametrize("kw, message", [
    (dict(models=()), "--models: no model given"),
    (dict(models=(("a", "embedded"), ("a", "x"))),
     "--models: model name 'a' is given twice"),
    (dict(models=(("_x", "embedded"),)), "--models: model name '_x' must"),
    (dict(batch_size=0), "--batch_size=0: must be a whole number >= 1"),
    (dict(max_length=64, max_new_tokens=64),
     "--max_new_tokens=64 leaves no room for a prompt in --max_length=64"),
    (dict(max_examples=0), "--max_examples=0: must be a whole number >= 1"),
    (dict(precision="float16"), "--precision=float16: expected one of"),
    (dict(data_root="/no/such/dir"), "--data_root=/no/such/dir: no such"),
    (dict(default_layout="nope"), "--default_layout=nope: expected one of"),
    (dict(eval_datasets=("evals",)),
     "--eval_datasets: no dataset named 'evals' (loaded: fewshot_mistakes"),
    (dict(lit_options={"data_dir": "/tmp/x"}),
     "--data_dir: LIT's prediction cache pickles"),
    (dict(team_mode=True, data_root="/tmp"),
     "--data_root=/tmp: a --team_mode server reads no files on request"),
    (dict(salience_cache_mb=-1),
     "--salience_cache_mb=-1: must be a whole number >= 0"),
    (dict(max_request_bytes=10),
     "--max_request_bytes=10: must be a whole number >= 1024"),
    (dict(method_groups=("loo", "shap")),
     "--method_groups: unknown method group(s) ['shap']; known: contrast,"),
])
def test_bad_settings_are_refused_with_the_flag(kw, message):
  with pytest.raises(config_lib.ConfigError) as e:
    config_lib.ServerConfig(**kw)
  assert str(e.value).startswith(message)


def test_models_flag_needs_name_and_source():
  assert config_lib.parse_models_flag("a:embedded, b : x.gguf") == (
      ("a", "embedded"), ("b", "x.gguf"))
  with pytest.raises(config_lib.ConfigError, match="'embedded' is not NAME:SOURCE"):
    config_lib.parse_models_flag("embedded")


# ----------------------------------------------------- start-up errors


def _bad_inputs(tmp: pathlib.Path) -> dict[str, tuple[list[str], str, int]]:
  """case -> (flags, the one stderr line expected, exit status)."""
  malformed = tmp / "malformed.jsonl"
  malformed.write_text('{"prompt": "fine"}\n{"prompt": "broken\n')
  no_prompt = served_lib.write_jsonl(tmp / "no_prompt.jsonl",
                           [{"prompt": "fine"}, {"target": "no prompt"}])
  short_row = tmp / "short.csv"
  short_row.write_text('prompt,target\n"a",b\nc\n')
  undefined = tmp / "undefined.yaml"
  undefined.write_text('id: t1\ntemplate: "Q: {{question}} {{missing}}"\n'
                       'rows:\n  - question: "Why?"\n')
  missing = tmp / "missing.jsonl"
  good = served_lib.write_jsonl(tmp / "good.jsonl", [{"prompt": "hi"}])
  return {
      "malformed_jsonl": (
          [f"--datasets=d:{malformed}"],
          f"{malformed}:2: invalid JSON: Unterminated string starting at "
          f"(column 12)", 1),
      "row_without_prompt": (
          [f"--datasets=d:{no_prompt}"],
          f"{no_prompt}:2: missing required field 'prompt'", 1),
      "short_csv_row": (
          [f"--datasets=d:{short_row}"],
          f"{short_row}:3: row has 1 cell but the header has 2 columns", 1),
      "undefined_template_variable": (
          [f"--datasets=d:{undefined}"],
          f"{undefined}: template 't1', rows[0]: undefined variable "
          f"'missing'", 1),
      "missing_file": (
          [f"--datasets=d:{missing}"], f"{missing}: file not found", 1),
      "unknown_model_source": (
          [f"--datasets=d:{good}", "--models=gemma:gemma_nonexistent_9b"],
          "model source 'gemma_nonexistent_9b': unknown preset name; "
          "accepted: 'embedded', a .gguf file of a Gemma 3 or Gemma 4 text "
          "model, a keras-hub preset folder, or a keras-hub Gemma / Gemma 2 "
          "/ Gemma 3 / Gemma 3n / Gemma 4 preset name such as gemma3_1b or "
          "gemma4_instruct_2b", 1),
      "missing_model_folder": (
          [f"--datasets=d:{good}", f"--models=gemma:{tmp}/no_model/"],
          f"model source '{tmp}/no_model/': no such file or folder; accepted:",
          1),
      "bad_number": (["--batch_size=0"],
                     "--batch_size=0: must be a whole number >= 1", 1),
      "unparsable_flag": (["--max_length=long"],
                          "flag --max_length=long: invalid literal for int() "
                          "with base 10: 'long'", 2),
      "bad_precision": (["--precision=float16"],
                        "flag --precision=float16: value should be one of "
                        "<float32|bfloat16>", 2),
      "missing_data_root": ([f"--datasets=d:{good}", "--data_root=/no/dir"],
                            "--data_root=/no/dir: no such folder", 1),
      "duplicate_dataset_name": (
          [f"--datasets=d:{good},d:{good}"],
          "--datasets: dataset name 'd' is given twice", 1),
  }


@pytest.fixture(scope="module")
def failed_starts(tmp_path_factory):
  """Runs every bad start at once (they are independent): case ->
  (exit status, stderr, expected line, expected status)."""
  tmp = tmp_path_factory.mktemp("bad_inputs")
  cases = _bad_inputs(tmp)
  env = dict(os.environ, LIT_GEMMA_CACHE=str(tmp / "cache"))

  def run(args):
    done = subprocess.run(
        [sys.executable, LAUNCH, f"--port={free_port()}", *args],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    return done.returncode, done.stderr

  with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
    futures = {k: pool.submit(run, args) for k, (args, _, _) in cases.items()}
  return {k: (*futures[k].result(), cases[k][1], cases[k][2]) for k in cases}


@pytest.mark.parametrize("case", [
    "malformed_jsonl", "row_without_prompt", "short_csv_row",
    "undefined_template_variable", "missing_file", "unknown_model_source",
    "missing_model_folder", "bad_number", "unparsable_flag", "bad_precision",
    "missing_data_root", "duplicate_dataset_name"])
def test_bad_start_is_one_line_and_nonzero_exit(failed_starts, case):
  status, stderr, expected, expected_status = failed_starts[case]
  assert "Traceback" not in stderr
  lines = [l for l in stderr.splitlines() if l and not _LOG_LINE.match(l)]
  assert len(lines) == 1, stderr
  assert lines[0].startswith(f"lit-gemma: {expected}"), stderr
  assert status == expected_status


def test_launch_serves_and_stops_cleanly(tiny_preset, prompts_file, tmp_path):
  """`python launch.py` with flags: the page, /get_info, and SIGTERM."""
  port = free_port()
  log = tmp_path / "server.log"
  with open(log, "w") as out:
    process = subprocess.Popen(
        [sys.executable, LAUNCH, f"--models=tiny:{tiny_preset}",
         f"--datasets=prompts:{prompts_file}", f"--port={port}",
         "--nowarm_up"],
        stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        env=dict(os.environ, LIT_GEMMA_CACHE=str(tmp_path / "cache")))
  try:
    url = f"http://127.0.0.1:{port}"
    info = wait_for_info(url, process, log)
    assert info["pageTitle"] == "lit-gemma"
    assert set(info["models"]) == served_lib.lit_model_names()
    status, page = request(url, "/")
    assert status == 200 and "<lit-app" in page
  finally:
    process.send_signal(signal.SIGTERM)
    status = process.wait(timeout=30)
  assert status == 0, log.read_text()
  assert "lit-gemma: serving http://127.0.0.1:" in log.read_text()


# ---------------------------------------------------------- endpoints


def test_get_info_has_models_datasets_and_layouts(live):
  info = ok(live.url, "/get_info", {})
  assert set(info["models"]) == served_lib.lit_model_names()
  for model in info["models"].values():
    assert "prompts" in model["datasets"]
  assert info["datasets"]["prompts"]["size"] == len(PROMPTS)
  assert info["defaultLayout"] == layouts.PROMPT_DEBUGGING
  assert info["pageTitle"] == "lit-gemma"
  assert info["initSpecs"]["models"] == {}  # No model loading from the UI.
  for name in (layouts.PROMPT_DEBUGGING, layouts.WIDE_PROMPT):
    layout = info["layouts"][name]
    modules = {m for group in ("left", "upper", "lower")
               for tab in layout[group].values() for m in tab}
    assert {"data-table-module", "simple-data-table-module"} & modules
    assert "single-datapoint-editor-module" in modules
    assert "sequence-salience-module" in modules
  wide = info["layouts"][layouts.WIDE_PROMPT]
  assert list(wide["upper"]) == ["Sequence Salience"] and not wide["left"]


def test_get_preds_for_all_three_models(live):
  dataset = ok(live.url, "/get_dataset", {}, dataset_name="prompts")
  ids = [ex["id"] for ex in dataset]
  params = dict(dataset_name="prompts")
  # The data table asks for every example's response.
  responses = ok(live.url, "/get_preds", {"inputs": ids}, model="tiny",
                  requested_types="GeneratedText", **params)
  assert len(responses) == len(PROMPTS)
  assert all(isinstance(r["response"], str) for r in responses)
  # Sequence Salience tokenizes prompt + target, then asks for salience.
  example = dataset[0]
  tokens = ok(live.url, "/get_preds", {"inputs": [example["id"]]},
               model="_tiny_tokenizer", **params)[0]["tokens"]
  assert "<bos>" not in tokens
  mask = [0] * len(tokens)
  mask[-1] = 1
  salience = ok(live.url, "/get_preds",
                 {"inputs": [new_input(example["data"] | {
                     "target_mask": mask})]},
                 model="_tiny_salience", requested_types="TokenScores",
                 **params)[0]
  assert set(salience) == {"grad_l2", "grad_dot_input"}
  assert len(salience["grad_l2"]) == len(tokens)
  assert any(s > 0 for s in salience["grad_l2"][:-1])


def test_empty_prompt_works(live):
  params = dict(dataset_name="prompts")
  for data in ({"prompt": "", "target": " Paris."},
               {"prompt": "", "target": ""}):
    for model in ("tiny", "_tiny_tokenizer", "_tiny_salience"):
      preds = ok(live.url, "/get_preds", {"inputs": [new_input(data)]},
                  model=model, **params)
      assert len(preds) == 1


def test_prompt_over_max_length_is_refused_without_traceback(live, caplog):
  long = {"prompt": "word " * 200, "target": " end"}
  for model in ("_tiny_tokenizer", "_tiny_salience"):
    status, text = request(live.url, "/get_preds",
                            {"inputs": [new_input(long)]}, model=model,
                            dataset_name="prompts")
    assert status == 400
    count = re.search(r"prompt \+ target is (\d+) tokens, over the limit of "
                      rf"{MAX_LENGTH} \(--max_length\)", text)
    assert count and int(count.group(1)) > MAX_LENGTH, text
    assert_short_error(text)
  status, text = request(live.url, "/get_preds",
                          {"inputs": [new_input(long)]}, model="tiny",
                          dataset_name="prompts")
  assert status == 400
  assert_short_error(text)
  assert f"over the limit of {MAX_LENGTH - MAX_NEW_TOKENS}" in text
  assert "refused" in caplog.text


def test_unexpected_error_is_logged_not_sent(live, caplog, monkeypatch):
  # An unknown model is a client mistake (404, see test_hostile.py); a
  # failure inside the server is a 500 with its traceback in the log only.
  from lit_gemma.web import finite_json  # pylint: disable=g-import-not-at-top

  def broken(*unused_args, **unused_kw):
    raise KeyError("broken on purpose")

  monkeypatch.setattr(finite_json, "dumps", broken)
  status, text = request(live.url, "/get_info")
  assert status == 500
  assert_short_error(text, "internal error, see the server log")
  assert "Traceback" in caplog.text and "KeyError" in caplog.text


def test_lit_static_file_error_has_no_traceback(live):
  # LIT's own file handler answers this with a traceback (embedded NUL);
  # it is refused before LIT sees it.
  status, text = request(live.url, "/static/x%00y")
  assert status == 404
  assert_short_error(text, "not found")


def test_ui_dataset_loader_stays_in_data_root(live):
  def create(path, name):
    return request(live.url, "/create_dataset",
                    {"config": {"new_name": name, "path": path}},
                    dataset_name="prompt_file")

  for path in (str(live.outside), "../secret.jsonl", "/etc/passwd"):
    status, text = create(path, "sneaky")
    assert status == 400, text
    assert_short_error(text)
    assert "refused: the path is outside the data root" in text
  status, text = create("extra.jsonl", "extra")
  assert status == 200, text
  info, name = json.loads(text)
  assert name == "extra" and info["datasets"]["extra"]["size"] == 1


def test_ui_cannot_load_models(live):
  status, text = request(live.url, "/create_model",
                          {"config": {"new_name": "m", "path": "/tmp"}},
                          model_name="tiny")
  assert status == 400
  assert_short_error(text, "loading models from the UI is disabled; "
                      "restart the server with --models=NAME:SOURCE")


def test_datapoint_files_stay_in_data_root(live):
  dataset = ok(live.url, "/get_dataset", {}, dataset_name="prompts")
  for endpoint in ("/save_datapoints", "/load_datapoints"):
    status, text = request(live.url, endpoint, {"inputs": dataset[:1]},
                            dataset_name="prompts",
                            path=str(live.outside.parent / "saved"))
    assert status == 400, text
    assert_short_error(text)
  saved = ok(live.url, "/save_datapoints", {"inputs": dataset[:1]},
              dataset_name="prompts", path="saved")
  assert saved == str(live.data_root / "saved.lit.jsonl")
  loaded = ok(live.url, "/load_datapoints", {}, dataset_name="prompts",
               path="saved")
  assert [ex["data"]["prompt"] for ex in loaded] == [PROMPTS[0]["prompt"]]


# ---------------------------------------------------- restart, warm-up


def test_responses_survive_a_restart(tiny_preset, tiny_lm, prompts_file,
                                     tmp_path, monkeypatch):
  """A second start answers the data table from disk: no generation."""
  from lit_gemma.lit import response_cache  # pylint: disable=g-import-not-at-top

  generated = []
  real_generate = tiny_lm.generate_ids

  def counting_generate(prompts, max_new_tokens):
    generated.extend(prompts)
    return real_generate(prompts, max_new_tokens)

  monkeypatch.setattr(tiny_lm, "generate_ids", counting_generate)
  db = tmp_path / "responses.sqlite"
  config = served_lib.server_config(tiny_preset, prompts_file)

  def table_responses():
    cache = response_cache.ResponseCache(db)  # A new one, as after restart.
    with served_lib.served(config, lms={"tiny": tiny_lm}, response_cache=cache) as s:
      ids = [ex["id"] for ex in
             ok(s.url, "/get_dataset", {}, dataset_name="prompts")]
      return ok(s.url, "/get_preds", {"inputs": ids}, model="tiny",
                 dataset_name="prompts", requested_types="GeneratedText")

  first = table_responses()
  assert len(generated) == len(PROMPTS)
  with sqlite3.connect(db) as conn:
    rows = conn.execute("SELECT prompt, response FROM responses").fetchall()
  assert sorted(rows) == sorted(
      (p["prompt"], r["response"]) for p, r in zip(PROMPTS, first))
  generated.clear()
  second = table_responses()
  assert second == first
  assert not generated


def test_warm_up_makes_the_first_click_compile_nothing(
    tiny_preset, prompts_file):
  from lit_gemma.salience import compilation  # pylint: disable=g-import-not-at-top

  # A fresh model: its jit caches are empty.
  config = served_lib.server_config(tiny_preset, prompts_file, warm_up=True,
                   models=(("fresh", str(tiny_preset)),))
  with served_lib.served(config) as s:  # Served once warmed up.
    dataset = ok(s.url, "/get_dataset", {}, dataset_name="prompts")
    example = dataset[0]["data"]
    tokens = ok(s.url, "/get_preds", {"inputs": [dataset[0]["id"]]},
                 model="_fresh_tokenizer", dataset_name="prompts")[0]["tokens"]
    with compilation.CompileCounter() as compiles:
      for span in ((len(tokens) - 2, len(tokens)), (len(tokens) - 1,
                                                    len(tokens))):
        mask = [int(span[0] <= i < span[1]) for i in range(len(tokens))]
        ok(s.url, "/get_preds",
            {"inputs": [new_input(example | {"target_mask": mask})]},
            model="_fresh_salience", dataset_name="prompts")
    assert compiles.count == 0


def test_gunicorn_entry_point(tiny_preset, prompts_file, monkeypatch):
  """`lit_gemma.serve.entry:get_wsgi_app()` reads the flags in sys.argv (and
  ignores gunicorn's own); a bad one stops it with one line."""
  from werkzeug import test as werkzeug_test  # pylint: disable=g-import-not-at-top

  monkeypatch.setattr(sys, "argv", [
      "gunicorn", "--bind=127.0.0.1:0", f"--models=tiny:{tiny_preset}",
      f"--datasets=prompts:{prompts_file}", "--nowarm_up"])
  try:
    app = entry.get_wsgi_app()
  finally:
    flags.FLAGS.unparse_flags()
  assert app.wait_ready(timeout=300), app.health()
  response = werkzeug_test.Client(app).post(
      "/get_info", data="{}", content_type="application/json")
  assert response.status_code == 200
  assert set(response.get_json()["models"]) == served_lib.lit_model_names()

  monkeypatch.setattr(sys, "argv", ["gunicorn", "--max_new_tokens=0"])
  try:
    with pytest.raises(SystemExit) as stop:
      entry.get_wsgi_app()
  finally:
    flags.FLAGS.unparse_flags()
  assert str(stop.value) == (
      "lit-gemma: --max_new_tokens=0: must be a whole number >= 1")
