"""The notebook widget as a notebook user meets it (a tiny random Gemma 3
keeps it fast): the rendered output points at a live server, in Jupyter
(directly or through a proxy) and in Colab; the page keeps answering while
another request is in flight; `stop()` frees the port at once; a bad start
is one line.

Colab's own API is replaced by a recording stand-in (`google.colab.output`
only exists in Colab); everything of ours runs for real.
"""

from __future__ import annotations

import html.parser
import json
import socket
import sys
import time
import types

from IPython import display as ipython_display
import pytest

from http_helpers import ok
from http_helpers import request
from lit_gemma import notebook
import widget_pages

PROMPTS = [{"prompt": "The capital of France is", "target": " Paris."},
           {"prompt": "Bees dance to show", "target": " where flowers are."}]


def _hold_request(port: int) -> socket.socket:
  """Starts a POST /get_info whose body has not arrived yet: its request
  thread waits on it until the caller sends `{}` (or closes)."""
  held = socket.create_connection(("127.0.0.1", port), timeout=30)
  held.sendall(b"POST /get_info HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n")
  time.sleep(0.2)  # Let the server take it and start waiting for the body.
  return held


@pytest.fixture(scope="module")
def tiny_lm(tiny_presets):
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  return lm_lib.GemmaLM.load(str(tiny_presets["gemma3"]))


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("data") / "prompts.jsonl"
  path.write_text("".join(json.dumps(row) + "\n" for row in PROMPTS))
  return path


@pytest.fixture(scope="module")
def widget(tiny_lm, prompts_file, tmp_path_factory):
  """The widget serving the tiny model, which `show` was handed loaded."""
  from lit_gemma.lit import response_cache  # pylint: disable=g-import-not-at-top

  cache = response_cache.ResponseCache(
      tmp_path_factory.mktemp("cache") / "responses.sqlite")
  served = notebook.show(lms={"tiny": tiny_lm},
                         datasets={"prompts": str(prompts_file)},
                         render=False, response_cache=cache, warm_up=False,
                         max_length=64, max_new_tokens=8, height=640)
  yield served
  served.stop()


@pytest.fixture
def displayed(monkeypatch):
  """What `render()` displays in Jupyter (IPython's display, recorded)."""
  shown = []
  monkeypatch.setattr(ipython_display, "display", shown.append)
  return shown


@pytest.fixture
def colab(monkeypatch):
  """A stand-in for Colab's `google.colab.output`, recording its calls."""
  calls = []
  output = types.ModuleType("google.colab.output")
  output.serve_kernel_port_as_iframe = (
      lambda port, **kw: calls.append(("iframe", port, kw)))
  output.serve_kernel_port_as_window = (
      lambda port, **kw: calls.append(("window", port, kw)))
  colab_module = types.ModuleType("google.colab")
  colab_module.output = output
  monkeypatch.setitem(sys.modules, "google.colab", colab_module)
  monkeypatch.setitem(sys.modules, "google.colab.output", output)
  return calls


def test_widget_serves_the_shared_model_and_data(widget, tiny_lm):
  assert widget.lms["tiny"] is tiny_lm
  assert widget.url == f"http://127.0.0.1:{widget.port}/"
  info = ok(widget.url.rstrip("/"), "/get_info", {})
  assert set(info["models"]) == {"tiny", "_tiny_tokenizer", "_tiny_salience",
                                 "tiny_scores", "tiny_eval"}
  assert info["datasets"]["prompts"]["size"] == len(PROMPTS)


def test_jupyter_render_is_an_iframe_of_the_server(widget, displayed,
                                                   monkeypatch):
  monkeypatch.delenv(notebook.PROXY_URL_ENV, raising=False)
  assert not notebook.in_colab()
  widget.render()
  (shown,) = displayed
  src = widget_pages.iframe_src(shown.data)
  assert src == widget.url
  assert 'height="640"' in shown.data
  status, page = request(src, "")
  assert status == 200 and "<lit-app" in page


def test_jupyter_render_goes_through_the_proxy_url(widget, displayed,
                                                   monkeypatch):
  monkeypatch.delenv(notebook.PROXY_URL_ENV, raising=False)
  proxied = notebook.Widget(widget.app, proxy_url="/proxy/%PORT%/")
  try:
    proxied.render(height=300)
    monkeypatch.setenv(notebook.PROXY_URL_ENV, "https://hub.example/u/%PORT%/")
    proxied.proxy_url = None
    proxied.render()
  finally:
    proxied.stop()
  assert [widget_pages.iframe_src(s.data) for s in displayed] == [
      f"/proxy/{proxied.port}/", f"https://hub.example/u/{proxied.port}/"]
  assert 'height="300"' in displayed[0].data


def test_colab_render_serves_the_port_through_colab(widget, colab, displayed):
  assert notebook.in_colab()
  widget.render()
  widget.render(height=500)
  widget.render(new_tab=True)
  assert colab == [("iframe", widget.port, {"height": "640", "path": "/"}),
                   ("iframe", widget.port, {"height": "500", "path": "/"}),
                   ("window", widget.port, {"path": "/"})]
  assert not displayed  # Colab shows it, not an HTML output of ours.
  status, page = request(f"http://127.0.0.1:{colab[0][1]}/", "")
  assert status == 200 and "<lit-app" in page


def test_a_request_in_flight_does_not_hold_up_the_page(widget):
  """A single-threaded server (LIT's) would answer nothing while one request
  waits; this one answers the page and /get_info meanwhile."""
  held = _hold_request(widget.port)
  try:
    start = time.monotonic()
    status, _ = request(widget.url, "", timeout=10)
    assert status == 200
    assert ok(widget.url.rstrip("/"), "/get_info", {})["datasets"]
    assert time.monotonic() - start < 10
    held.sendall(b"{}")
    answer = held.recv(100)
  finally:
    held.close()
  assert answer.startswith(b"HTTP/1.1 200"), answer


def test_stop_returns_at_once_and_frees_the_port(widget):
  with notebook.Widget(widget.app) as extra:
    held = _hold_request(extra.port)  # Stopping must not wait for it.
    start = time.monotonic()
    extra.stop()
    took = time.monotonic() - start
  held.close()
  assert not extra.serving
  assert widget_pages.refused(extra.port)
  # LIT's widget takes about 30 s; the serving loop checks every 50 ms.
  assert took < 1.0, f"stop() took {took:.2f} s"
  with pytest.raises(notebook.StartError, match="stopped"):
    extra.render()


def test_leaving_the_with_block_stops_the_widget(widget):
  with notebook.Widget(widget.app) as scoped:
    ok(scoped.url.rstrip("/"), "/get_info", {})
  assert not scoped.serving
  assert widget_pages.refused(scoped.port)


@pytest.mark.parametrize("case", ["bad_dataset_line", "bad_model_source",
                                  "unknown_setting"])
def test_a_bad_start_is_one_line(case, tiny_presets, tmp_path):
  bad = tmp_path / "bad.jsonl"
  bad.write_text('{"prompt": "ok"}\n{"prompt": "oops",}\n')
  preset = str(tiny_presets["gemma3"])
  show_args, expected = {
      "bad_dataset_line": (dict(models={"tiny": preset},
                                datasets={"bad": str(bad)}),
                           f"{bad}:2: invalid JSON"),
      "bad_model_source": (dict(models={"tiny": str(tmp_path / "nothing")},
                                datasets={}),
                           f"model source '{tmp_path / 'nothing'}': no such"),
      "unknown_setting": (dict(models={"tiny": preset}, datasets={},
                               max_new_token=8),
                          "unknown setting 'max_new_token'"),
  }[case]
  with pytest.raises(notebook.StartError) as raised:
    notebook.show(render=False, warm_up=False, **show_args)
  assert str(raised.value).startswith(expected), raised.value
  # What IPython prints instead of a traceback: the message, on one line.
  (shown,) = raised.value._render_traceback_()
  assert shown == f"lit-gemma: {raised.value}" and "\n" not in shown
