"""A Gemma 3 and a Gemma 4 served together, as `launch.py
--models=g3:...,g4:...` builds them: a chat template renders once in each
model's own turn markers, each model explains prompts in its own format,
and LIT validates all three Gemma 4 models."""

import os
import pathlib
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.lib import validation

import gguf_gemma4_writer
from http_helpers import assert_short_error
from http_helpers import free_port
from http_helpers import ok
from http_helpers import request
from http_helpers import wait_for_info
from lit_gemma.serve import build
from lit_gemma.serve import config as config_lib
from lit_gemma.lit import response_cache
from lit_gemma.serve import dev_server
from lit_gemma.models import keras_tasks
import repo

TEMPLATE = """
- id: ask
  chat: true
  template: "Answer briefly: {{question}}"
  rows:
    - {question: "What is water made of?", target: " Hydrogen and oxygen."}
    - {question: "Where do bees go?", target: " To flowers."}
"""


LAUNCH = str(repo.LAUNCH)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  """A tiny Gemma 4 preset folder and a chat template file."""
  tmp = tmp_path_factory.mktemp("g3g4")
  g4 = tmp / "gemma4"
  keras_tasks.save_preset(gguf_gemma4_writer.build_causal_lm("dense"), g4)
  chat = tmp / "chat.yaml"
  chat.write_text(TEMPLATE)
  return tmp, g4, chat


@pytest.fixture(scope="module")
def served(tiny_presets, files):
  tmp, g4, chat = files
  config = config_lib.ServerConfig(
      models=(("g3", str(tiny_presets["gemma3"])), ("g4", str(g4))),
      datasets=(("chat", str(chat)),), max_length=96, max_new_tokens=4,
      warm_up=False)
  app = build.build_app(
      config, response_cache=response_cache.ResponseCache(tmp / "r.sqlite"))
  server = dev_server.make_server(app, "127.0.0.1", 0)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield app, f"http://127.0.0.1:{server.port}"
  finally:
    server.shutdown()
    server.server_close()


def _examples(url):
  return ok(url, "/get_dataset", {}, dataset_name="chat")


def test_a_chat_template_renders_in_each_models_format(served):
  _, url = served
  examples = _examples(url)
  by_format = {}
  for ex in examples:
    by_format.setdefault(ex["data"]["chat_format"], []).append(
        ex["data"]["prompt"])
  assert sorted(by_format) == ["gemma", "gemma4"]
  assert all(p.startswith("<start_of_turn>user\nAnswer briefly: ") and
             p.endswith("<end_of_turn>\n<start_of_turn>model\n")
             for p in by_format["gemma"])
  assert all(p.startswith("<|turn>user\nAnswer briefly: ") and
             p.endswith("<turn|>\n<|turn>model\n")
             for p in by_format["gemma4"])
  assert len(by_format["gemma"]) == len(by_format["gemma4"]) == 2


@pytest.mark.parametrize("model, own", [("g3", "gemma"), ("g4", "gemma4")])
def test_each_model_explains_its_own_format_and_refuses_the_other(
    served, model, own):
  _, url = served
  examples = _examples(url)
  mine = [ex for ex in examples if ex["data"]["chat_format"] == own]
  other = [ex for ex in examples if ex["data"]["chat_format"] != own]
  (result,) = ok(url, "/get_preds", {"inputs": mine[:1]},
                 model=f"_{model}_salience", dataset_name="chat")
  scores = np.asarray(result["grad_l2"])
  assert len(scores) == len(result["tokens"]) and np.isfinite(scores).all()
  assert scores.max() > 0
  status, text = request(url, "/get_preds", {"inputs": other[:1]},
                         model=f"_{model}_salience", dataset_name="chat")
  assert status == 400
  assert_short_error(text)
  assert f"the model speaks {own!r}" in text
  (generated,) = ok(url, "/get_preds", {"inputs": other[:1]}, model=model,
                    dataset_name="chat")
  assert generated["response"].startswith("(this datapoint's prompt is in")


def test_lit_validates_every_gemma4_model(served):
  app, url = served
  data = [ex["data"] for ex in _examples(url)
          if ex["data"]["chat_format"] == "gemma4"]
  spec = {k: v for k, v in app._datasets["chat"].spec().items()}  # pylint: disable=protected-access
  dataset = lit_dataset.Dataset(spec=spec, examples=data)
  for name in ("g4", "_g4_tokenizer", "_g4_salience"):
    validation.validate_model(app._models[name].wrapped, dataset)  # pylint: disable=protected-access


def test_gemma4_generation_stops_at_its_end_of_turn(served):
  app, _ = served
  lm = app.lms["g4"]
  turn_end = lm._sp.piece_to_id("<turn|>")  # pylint: disable=protected-access
  assert turn_end in lm.stop_ids
  assert lm.chat_format == "gemma4" and app.lms["g3"].chat_format == "gemma"


def test_launch_serves_a_gemma3_and_a_gemma4_together(tiny_presets, files,
                                                      tmp_path):
  """`launch.py --models=g3:...,g4:...` as a user starts it."""
  _, g4, chat = files
  port, log = free_port(), tmp_path / "server.log"
  with open(log, "w") as out:
    process = subprocess.Popen(
        [sys.executable, LAUNCH,
         f"--models=g3:{tiny_presets['gemma3']},g4:{g4}",
         f"--datasets=chat:{chat}", f"--port={port}", "--max_length=96",
         "--max_new_tokens=4", "--nowarm_up"],
        stdout=out, stderr=subprocess.STDOUT,
        env=dict(os.environ, LIT_GEMMA_CACHE=str(tmp_path / "cache")))
  try:
    url = f"http://127.0.0.1:{port}"
    info = wait_for_info(url, process, log, seconds=240)
    assert {"g3", "_g3_salience", "g4", "_g4_salience"} <= set(info["models"])
    formats = {ex["data"]["chat_format"]: ex for ex in _examples(url)}
    assert sorted(formats) == ["gemma", "gemma4"]
    (result,) = ok(url, "/get_preds", {"inputs": [formats["gemma4"]]},
                   model="_g4_salience", dataset_name="chat")
    assert len(result["grad_l2"]) == len(result["tokens"])
  finally:
    process.send_signal(signal.SIGTERM)
    status = process.wait(timeout=60)
  assert status == 0, log.read_text()
