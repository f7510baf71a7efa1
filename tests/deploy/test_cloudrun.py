"""The Cloud Run container as a team meets it, without Docker.

The module's server is started from the Dockerfile itself (container.py):
its ENV values, the `prepare` command of its RUN line, then its CMD (the
exact gunicorn command line) with PORT set to a free port, in the
repository root (the image's WORKDIR /app). $LIT_GEMMA_CACHE is a fresh
folder linking to this machine's converted models and compiled programs.

What each test guards: the startup probe sees 503 until the model is ready;
a team member cannot make the server load, save, read or fetch anything;
errors reach the browser as one line with an id the log can be searched
for; eight people clicking at once each get their own salience.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import runpy
import shlex
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import container
from http_helpers import assert_short_error
from http_helpers import new_input
from http_helpers import ok
from http_helpers import request
from lit_gemma.serve import config as config_lib
from lit_gemma.lit import app as lit_app
from lit_gemma.models import loading
from lit_gemma.models import memory_budget
from lit_gemma import paths
from lit_gemma.serve import entry as server
from lit_gemma.serve import settings
from lit_gemma.serve import startup
from lit_gemma.web import limits

ROOT = container.ROOT
DATASET = "fewshot_mistakes"  # Any bundled set: requests name one.

# Eight different inputs for eight people clicking at once.
CONCURRENT = [
    {"prompt": "The capital of France is", "target": " Paris."},
    {"prompt": "Water is made of", "target": " hydrogen and oxygen."},
    {"prompt": "Bees dance to show", "target": " where flowers are."},
    {"prompt": "Q: What is 2 + 3?\nA:", "target": " 5"},
    {"prompt": "Translate to French: cat ->", "target": " chat"},
    {"prompt": "The opposite of hot is", "target": " cold."},
    {"prompt": "Roses are red, violets are", "target": " blue."},
    {"prompt": "A baby cat is called a", "target": " kitten, usually."},
]


def _files(folder: pathlib.Path) -> dict[str, tuple[int, int]]:
  """path -> (size, mtime) of every file under `folder`, links not
  followed (the shared model and compile caches are links)."""
  found = {}
  for dirpath, dirnames, filenames in os.walk(folder):
    for name in filenames:
      stat = os.lstat(os.path.join(dirpath, name))
      found[os.path.join(dirpath, name)] = (stat.st_size, stat.st_mtime_ns)
    dirnames[:] = [d for d in dirnames
                   if not os.path.islink(os.path.join(dirpath, d))]
  return found


# ----------------------------------------------------- the served image


@pytest.fixture(scope="module")
def served(tmp_path_factory):
  image = container.ServedImage(tmp_path_factory.mktemp("cloudrun"))
  try:
    yield image
  finally:
    image.close()


# --------------------------------------------- the image, as files


def test_dockerfile_passes_hadolint():
  done = subprocess.run([str(container.VENV_BIN / "hadolint"), str(container.DOCKERFILE)],
                        capture_output=True, text=True, timeout=60)
  assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_builds_what_a_team_server_needs():
  instructions = container.instructions()
  (base,) = [a for k, a in instructions if k == "FROM"]
  assert base == "${BASE}"  # image_check.sh gives its own Debian base
  (arg,) = [a for k, a in instructions if k == "ARG"]
  assert arg.startswith("BASE=python:3.11-slim")
  users = [a for k, a in instructions if k == "USER"]
  assert users and users[-1] not in ("root", "0")
  runs = " ".join(a for k, a in instructions if k == "RUN")
  assert "pip install -c constraints.txt" in runs
  env = container.env()
  assert "--team_mode" in shlex.split(env[settings.FLAGS_ENV])
  assert env[paths.CACHE_ENV]
  # No credentials baked in.
  secrets = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
  assert not [k for k in env if any(s in k.upper() for s in secrets)]
  assert "GOOGLE_APPLICATION_CREDENTIALS" not in container.DOCKERFILE.read_text()
  # The prepare step runs as the serving user, after the code is copied.
  keywords = [k for k, _ in instructions]
  prepare = next(i for i, (k, a) in enumerate(instructions)
                 if k == "RUN" and "lit_gemma.serve.prepare" in a)
  assert keywords.index("USER") < prepare
  assert container.cmd()[0] == "gunicorn"


def test_dockerignore_keeps_local_state_out():
  ignored = (ROOT / ".dockerignore").read_text().split()
  for entry in (".venv", ".git", "test-artifacts"):
    assert entry in ignored


def _gunicorn_settings() -> dict:
  return runpy.run_path(str(container.CLOUDRUN / "gunicorn.conf.py"))


def test_gunicorn_config_is_one_threaded_worker_on_port(monkeypatch):
  monkeypatch.setenv("PORT", "9123")
  settings = _gunicorn_settings()
  assert settings["bind"] == "0.0.0.0:9123"
  assert settings["workers"] == 1 and settings["worker_class"] == "gthread"
  assert not settings["preload_app"]


def _dry_run(*args) -> list[str]:
  done = subprocess.run(
      [str(container.CLOUDRUN / "deploy.sh"), "--dry-run", "--project", "team-proj",
       "--image", "REGION-docker.pkg.dev/team-proj/lit/lit-gemma:1", *args],
      capture_output=True, text=True, timeout=60)
  assert done.returncode == 0, done.stderr
  return shlex.split(done.stdout)


def _option(argv: list[str], name: str) -> str:
  (value,) = [a.split("=", 1)[1] for a in argv if a.startswith(name + "=")]
  return value


def test_deploy_dry_run_prints_the_private_sized_service():
  argv = _dry_run()
  assert argv[:4] == ["gcloud", "run", "deploy", "lit-gemma"]
  assert "--no-allow-unauthenticated" in argv
  assert "--allow-unauthenticated" not in argv
  port = _option(argv, "--port")
  assert port == container.env()["PORT"]
  probe = dict(p.split("=", 1) for p in
               _option(argv, "--startup-probe").split(","))
  assert probe["httpGet.path"] == startup.HEALTH_PATH
  assert not probe["httpGet.path"].endswith("z")  # Cloud Run reserves those.
  assert probe["httpGet.port"] == port
  assert int(probe["periodSeconds"]) * int(probe["failureThreshold"]) <= 240
  settings = _gunicorn_settings()
  assert int(_option(argv, "--concurrency")) == settings["threads"]
  assert int(_option(argv, "--timeout")) <= settings["timeout"]
  # Sized from benchmarks/served_memory.py's peak (6.86 GiB at team mode's 8 GiB plan).
  assert _option(argv, "--cpu") == "2"
  assert _option(argv, "--memory") == "8Gi"
  assert "--cpu-boost" in argv
  assert _option(argv, "--min-instances") == "0" and "--iap" not in argv
  env = _option(argv, "--set-env-vars")
  assert env.startswith("^|^LIT_GEMMA_FLAGS=--team_mode")


def test_deploy_dry_run_options():
  argv = _dry_run("--iap", "--min-instances", "1", "--weights-bucket",
                  "team-weights", "--lit-flags",
                  "--models=g:/mnt/models/g.gguf,e:embedded")
  assert "--iap" in argv and _option(argv, "--min-instances") == "1"
  assert _option(argv, "--set-env-vars") == (
      "^|^LIT_GEMMA_FLAGS=--team_mode --models=g:/mnt/models/g.gguf,"
      "e:embedded")
  assert "bucket=team-weights" in _option(argv, "--add-volume")
  assert "mount-path=/mnt/models" in _option(argv, "--add-volume-mount")
  done = subprocess.run([str(container.CLOUDRUN / "deploy.sh"), "--dry-run"],
                        capture_output=True, text=True, timeout=60)
  assert done.returncode == 2 and "--image is required" in done.stderr


def test_salience_memory_flag_bounds_the_kept_texts(tiny_presets):
  # deploy.sh --lit-flags "--salience_cache_mb=N" trades span-change speed
  # for memory; the default would keep both texts.
  (lm,) = loading.load_models((("t", str(tiny_presets["gemma"])),),
                              loading.ModelSettings(salience_cache_mb=0)
                              ).values()
  for text in ("one text to explain", "and another one"):
    ids = lm.encode(text)
    lm.engine.salience([ids], [[0.0] * (len(ids) - 1) + [1.0]])
  assert lm.engine.kept_texts == 1


# ---------------------------------------------- entry point, startup


def test_wsgi_app_takes_flags_from_the_environment(monkeypatch):
  monkeypatch.setattr(sys, "argv", ["gunicorn", "--bind=0.0.0.0:1"])
  monkeypatch.setenv(settings.FLAGS_ENV, "--team_mode --max_new_tokens=0")
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    with pytest.raises(SystemExit) as stop:
      server.get_wsgi_app()
    assert flags.FLAGS.team_mode
  finally:
    flags.FLAGS.unparse_flags()
  assert str(stop.value) == (
      "lit-gemma: --max_new_tokens=0: must be a whole number >= 1")


def test_failed_start_answers_500_in_one_line():
  def build():
    raise config_lib.ConfigError("--models: no such model")

  app = startup.StartingApp(build)
  assert not app.wait_ready(timeout=30)
  from werkzeug import test as werkzeug_test  # pylint: disable=g-import-not-at-top
  client = werkzeug_test.Client(app)
  health = client.get(startup.HEALTH_PATH)
  assert health.status_code == 500
  assert health.text == "lit-gemma: start-up failed: --models: no such model\n"
  page = client.get("/")
  assert page.status_code == 500
  assert_short_error(page.text)


# ------------------------------------------------------ the served image


def test_prepare_command_gives_the_model(served):
  assert served.prepared.returncode == 0, served.prepared.stderr
  preset = pathlib.Path(served.prepared.stdout.strip().splitlines()[-1])
  assert (preset / "config.json").is_file()


def test_health_is_503_until_ready_then_200(served):
  codes = served.health_codes
  assert codes[0] == 503 and codes[-1] == 200, codes
  assert set(codes) == {503, 200}, codes
  log = served.log.read_text()
  assert "warm-up: ready" in log  # 200 came after the first compiles.
  status, text = request(served.url, startup.HEALTH_PATH)
  assert (status, text) == (200, "lit-gemma: ready\n")


def test_page_and_team_info(served):
  status, page = request(served.url, "/")
  assert status == 200 and "<lit-app" in page
  info = ok(served.url, "/get_info", {})
  assert info["demoMode"] is True
  assert info["initSpecs"] == {"datasets": {}, "models": {}}
  assert {"gemma", "_gemma_tokenizer", "_gemma_salience"} <= set(
      info["models"])


def _blocked_requests(target: pathlib.Path, url: str):
  """(endpoint, body, query) that would write, read or fetch if served."""
  config = {"new_name": "x", "path": str(target / "data.jsonl")}
  return [
      ("/save_datapoints", {"inputs": []},
       dict(dataset_name=DATASET, path="team_saved")),
      ("/save_datapoints", {"inputs": []},
       dict(dataset_name=DATASET, path=str(target / "saved"))),
      ("/load_datapoints", {}, dict(dataset_name=DATASET, path="/etc/passwd")),
      ("/load_datapoints", {}, dict(dataset_name=DATASET, path=url)),
      ("/create_dataset", {"config": config}, dict(dataset_name="prompt_file")),
      ("/create_dataset", {"config": dict(config, path=url)},
       dict(dataset_name=DATASET)),
      ("/create_model", {"config": {"new_name": "m", "path": url}},
       dict(model_name="gemma")),
      ("/create_model", {"config": {"new_name": "m", "path": str(target)}},
       dict(model_name="gemma")),
  ]


@pytest.fixture
def listener():
  """A loopback port that records whether anything connected to it."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen()
    s.settimeout(1.0)
    yield s


def _connected(sock: socket.socket) -> bool:
  try:
    sock.accept()[0].close()
    return True
  except TimeoutError:
    return False


def test_blocked_endpoints_answer_403_and_write_nothing(served, listener):
  target = served.tmp / "target"
  target.mkdir()
  url = f"http://127.0.0.1:{listener.getsockname()[1]}/data.jsonl"

  def disk():  # The cache, the payloads' folder, the working directory.
    return _files(served.cache), _files(target), sorted(os.listdir(ROOT))

  before = disk()
  for endpoint, body, query in _blocked_requests(target, url):
    status, text = request(served.url, endpoint, body, **query)
    assert status == 403, (endpoint, text)
    assert_short_error(text)
    assert text.startswith(f"{endpoint} is disabled on this team server "
                           "(--team_mode)"), text
  assert disk() == before
  assert not list(target.iterdir())
  assert not _connected(listener)
  info = ok(served.url, "/get_info", {})
  assert "x" not in info["datasets"] and "m" not in info["models"]


def test_traversal_and_urls_are_refused(served, listener):
  secret = "class LitApp"  # In lit_nlp/app.py, beside LIT's client folder.
  for path in ("/../../app.py", "/%2e%2e/%2e%2e/app.py",
               "/static/..%2f..%2f..%2fapp.py", "/../../../../../etc/passwd",
               "/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
               "//etc/passwd", "/static/%252e%252e/%252e%252e/app.py"):
    status, text = request(served.url, path)
    assert status in (400, 404), (path, status)
    assert secret not in text and "root:" not in text, path
  url = f"http://127.0.0.1:{listener.getsockname()[1]}/x"
  # Endpoints that take a path or URL only from blocked requests; others
  # refuse arguments they do not read (one line, issue 12), and a URL in a
  # prompt is only text.
  for endpoint, body, params in (
      ("/get_dataset", {}, {}),
      ("/get_preds", {"inputs": [new_input({"prompt": url})]},
       {"model": "_gemma_tokenizer", "source": url}),
      ("/push_ui_state", {"inputs": []}, {})):
    status, text = request(served.url, endpoint, body, dataset_name=DATASET,
                           path=url, **params)
    assert status == 400, (endpoint, text)
    assert_short_error(text)
    assert "takes no query parameter" in text
  ok(served.url, "/get_preds", {"inputs": [new_input({"prompt": url})]},
     model="_gemma_tokenizer", dataset_name=DATASET)
  status, text = request(served.url, "/push_ui_state", {"inputs": []},
                         dataset_name=DATASET)
  assert status == 404  # No UI state tracker on a server.
  assert_short_error(text)
  assert not _connected(listener)


def test_bodies_and_prompts_are_bounded(served):
  big = {"inputs": [new_input({"prompt": "x" * limits.DEFAULT_MAX_REQUEST_BYTES})]}
  status, text = request(served.url, "/get_preds", big,
                         model="_gemma_tokenizer", dataset_name=DATASET)
  assert status == 413
  assert_short_error(text)
  assert text.startswith(
      f"request body is {len(json.dumps(big))} bytes, over the limit of "
      f"{limits.DEFAULT_MAX_REQUEST_BYTES} bytes (--max_request_bytes)")
  # A chunked body declares no length: it is counted as it is read.
  conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
  try:
    conn.request("POST", "/get_info", body=iter([b"{" + b" " * 4096] * 400),
                 headers={"Content-Type": "application/json"},
                 encode_chunked=True)
  except BrokenPipeError:
    pass  # The server answered and closed before the body ended.
  answer = conn.getresponse()
  assert answer.status == 413
  assert answer.read().decode().startswith(
      f"request body is over {limits.DEFAULT_MAX_REQUEST_BYTES} bytes")
  conn.close()
  limit = memory_budget.plan("team").max_length  # the team default
  long = {"prompt": "word " * (limit + 76), "target": " end"}
  status, text = request(served.url, "/get_preds",
                         {"inputs": [new_input(long)]},
                         model="_gemma_salience", dataset_name=DATASET)
  assert status == 400
  assert_short_error(text)
  assert f"over the limit of {limit} (--max_length)" in text


def test_error_gives_the_browser_an_id_and_the_log_the_traceback(served):
  req = urllib.request.Request(
      f"{served.url}/get_preds?model=no_such_model", data=b'{"inputs": []}',
      headers={"Content-Type": "application/json"})
  with pytest.raises(urllib.error.HTTPError) as answer:
    urllib.request.urlopen(req, timeout=60)
  text = answer.value.read().decode()
  # A client mistake (issue 12): 404 in one line, one log line, no traceback.
  assert answer.value.code == 404
  assert_short_error(text)
  assert text.startswith("no model named 'no_such_model'")
  request_id = answer.value.headers[lit_app.REQUEST_ID_HEADER]
  assert text.endswith(f"(request id {request_id})")
  log = served.log.read_text()
  mine = [l for l in log.splitlines() if f"[request {request_id}]" in l]
  assert len(mine) == 1 and "/get_preds refused" in mine[0]
  assert "KeyError: 'no_such_model'" not in log


def test_concurrent_salience_equals_each_alone(served, embedded_gemma):
  """Eight different clicks at once; each must equal the same input run
  alone in this process (not LIT's cache: a different process)."""
  from lit_gemma.lit import model_groups  # pylint: disable=g-import-not-at-top

  barrier = threading.Barrier(len(CONCURRENT))
  results: list = [None] * len(CONCURRENT)

  def click(i):
    barrier.wait()
    results[i] = ok(served.url, "/get_preds",
                    {"inputs": [new_input(CONCURRENT[i])]},
                    model="_gemma_salience", dataset_name=DATASET)[0]

  threads = [threading.Thread(target=click, args=(i,))
             for i in range(len(CONCURRENT))]
  for t in threads:
    t.start()
  for t in threads:
    t.join(timeout=600)
  alone = model_groups.SalienceModel(embedded_gemma,
                                     model_groups.GroupSettings())
  for example, served_result in zip(CONCURRENT, results):
    assert served_result is not None, example
    (expected,) = alone.predict_minibatch([example])
    assert served_result["tokens"] == expected["tokens"]
    for method in alone.methods:
      got = np.asarray(served_result[method])
      want = np.asarray(expected[method])
      assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max(), (
          example, method)

