"""Clicks from the moment the server says it serves (issues 13 and 22).

`launch.py` as a user starts it, driven in headless Chromium: the page is
opened as soon as the log prints the URL, then a target word is clicked,
then one in a text of another length bucket. The server logs one line per
request with what happened while it ran, from process-wide counters
(models/gate.py): every click's salience request must say that no thread
compiled a program and no background work ran. No timing is asserted:
`benchmarks/server.py` times the same path.

The fast test serves a tiny random Gemma 3 from a cold compile cache (the
warm-up compiles before the URL shows); the slow one the embedded Gemma 3
270M over a bundled set, whose responses are shipped.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

import http_helpers
from http_helpers import free_port
import browser_ui as browser
import repo

pytestmark = [pytest.mark.browser]

SERVING = re.compile(r"serving (http://\S+) ")
WARM_UP_DONE = re.compile(r"warm-up: done: (\d+) buckets in ([\d.]+) s")
REQUEST = re.compile(
    r"request /get_preds \((\S+)\) answered in ([\d.]+) s: (\d+) programs "
    r"compiled during it in any thread \((\d+) on its own\), (\d+) "
    r"background units ran during it, waited ([\d.]+) s for the engine")
BUCKETS = re.compile(r"salience of \d+ text\(s\) of .* tokens, bucket\(s\) "
                     r"(\[[\d, ]+\])")

# The tiny model's texts (its tokens are about characters): 25 and 33
# tokens, so buckets 32 and 64.
TINY_ROWS = [
    {"prompt": "The capital of France is", "target": " Paris.",
     "response": " Paris."},
    {"prompt": "Water is made of", "target": " hydrogen and oxygen atoms.",
     "response": " water."},
]
# Rows 0 and 2 of the bundled summarization set: about 134 and 121 tokens
# with their targets, so buckets 192 and 128.
DATASET = repo.BUNDLED / "summarization.yaml"
CLICKED_ROWS = (0, 2)
MAX_EXAMPLES = 3


def start_server(cache: pathlib.Path, log_path: pathlib.Path,
                 args: list[str], env: dict | None = None):
  """launch.py with `args` on cache root `cache`; returns (process, url,
  seconds from start to the log's URL line)."""
  start = time.monotonic()
  with open(log_path, "w") as log:
    process = subprocess.Popen(
        [sys.executable, str(repo.LAUNCH), f"--port={free_port()}", *args],
        stdout=log, stderr=subprocess.STDOUT, cwd=repo.ROOT,
        env=dict(env or os.environ, LIT_GEMMA_CACHE=str(cache)))
  deadline = time.monotonic() + browser.START_TIMEOUT_S
  while not (found := SERVING.search(log_path.read_text("utf-8",
                                                        "replace"))):
    if process.poll() is not None:
      raise RuntimeError(f"server exited ({process.returncode}):\n"
                         f"{log_path.read_text()[-3000:]}")
    if time.monotonic() > deadline:
      process.kill()
      raise RuntimeError(f"no URL after {browser.START_TIMEOUT_S} s")
    time.sleep(0.1)
  return process, found.group(1), time.monotonic() - start


stop_server = http_helpers.stop_server


def request_lines(log_path: pathlib.Path, model_suffix: str = "_salience"
                  ) -> list[dict]:
  """The logged requests for models named `*model_suffix`."""
  keys = ("model", "seconds", "compiled", "compiled_here", "background",
          "waited")
  lines = []
  for found in REQUEST.findall(log_path.read_text("utf-8", "replace")):
    line = dict(zip(keys, found))
    if line["model"].endswith(model_suffix):
      lines.append({k: v if k == "model" else float(v)
                    for k, v in line.items()})
  return lines


def open_page(playwright, url: str):
  chromium = playwright.chromium.launch(executable_path=browser.CHROMIUM,
                                        args=browser.CHROMIUM_ARGS)
  page = chromium.new_page(viewport={"width": 1400, "height": 900})
  page.set_default_timeout(browser.UI_TIMEOUT_S * 1000)
  page.route("**/*", lambda route: route.continue_()
             if route.request.url.startswith(url)
             and route.request.resource_type != "font"
             else route.abort())
  return chromium, page


def seconds_to_table(page, url: str, rows: int) -> tuple[float, float]:
  """Seconds from opening the page to a data table listing `rows` examples,
  and to the generation model's answer for them (the responses the page
  shows beside the table)."""
  start = time.monotonic()
  with page.expect_response(
      lambda r: "/get_preds" in r.url and "GeneratedText" in r.url,
      timeout=browser.UI_TIMEOUT_S * 1000) as generated:
    page.goto(url)
    # Filled rows (the table pads with empty ones) have text; Playwright's
    # locators see inside LIT's shadow roots, querySelector does not.
    page.locator("data-table-module tbody tr",
                 has_text=re.compile(r"\w")).nth(rows - 1).wait_for()
    table = time.monotonic() - start
  assert generated.value.ok, generated.value.status
  return table, time.monotonic() - start


def click_to_salience(page, row: int, target_text: str, chip: int = -1
                      ) -> float:
  """Selects data-table row `row`, picks its reference target, clicks the
  target word `chip` (-1: the last): seconds from that click to drawn
  salience.

  While the salience request is out, the clock only listens for its answer
  (the browser's network events): reading the chips runs a script over the
  page's shadow DOM, and doing that every 50 ms took CPU from the server on
  a 2-core machine, a load no user's browser adds. Once the answer is in,
  or when none was asked (LIT answers a text it saw from its cache), the
  chips are read every 50 ms until the map is drawn."""
  page.locator("data-table-module tbody tr").nth(row).click()
  browser.choose_reference_target(page, target_text)
  chips = browser.chips(page)
  chips.last.wait_for()
  asked, answered = [], []
  on_request = lambda r: "_salience" in r.url and asked.append(r)
  on_response = lambda r: "_salience" in r.url and answered.append(r)
  page.on("request", on_request)
  page.on("response", on_response)
  try:
    start = time.monotonic()
    chips.nth(chip).click()
    deadline = start + browser.UI_TIMEOUT_S
    while not asked and time.monotonic() < start + 0.3:
      page.wait_for_timeout(10)  # Dispatches the events; runs no script.
    while len(answered) < len(asked):
      assert time.monotonic() < deadline, "no salience answer"
      page.wait_for_timeout(10)
    while True:
      error = browser.status_error(page)
      assert error is None, f"the status bar shows an error: {error}"
      state = chips.evaluate_all(browser.CHIPS_JS)
      others = state[:chip] + state[chip:][1:]
      if state[chip]["selected"] and any(c["score"] for c in others):
        seconds = time.monotonic() - start
        if chip == -1:
          assert state[-1]["text"] == target_text.split()[-1], state[-1]
        return seconds
      assert time.monotonic() < deadline, "no salience drawn"
      page.wait_for_timeout(50)
  finally:
    page.remove_listener("request", on_request)
    page.remove_listener("response", on_response)


def clicks(page, log_path: pathlib.Path, targets: list[str],
           rows: tuple[int, ...], chip: int = -1) -> list[dict]:
  """Clicks target word `chip` of each of `rows`: seconds to drawn
  salience, and the server's lines for the salience requests it made."""
  results = []
  for row in rows:
    before = len(request_lines(log_path))
    seconds = click_to_salience(page, row, targets[row], chip)
    deadline = time.monotonic() + 30  # A request's line follows its answer.
    while not (lines := request_lines(log_path)[before:]):
      assert time.monotonic() < deadline, "no salience request logged"
      time.sleep(0.1)
    results.append({"row": row, "seconds": seconds, "requests": lines,
                    "compiled": sum(int(r["compiled"]) for r in lines),
                    "background": sum(int(r["background"]) for r in lines),
                    "waited": sum(r["waited"] for r in lines)})
  return results


# The status bar's pending-request bar, as the browser parsed it: the
# properties its keyframes animate (lit/progress_bar.py).
_BAR_KEYFRAMES_JS = """() => {
  const bar = document.querySelector('lit-app')?.shadowRoot
      ?.querySelector('lit-app-statusbar')?.shadowRoot;
  const names = new Set();
  for (const sheet of bar?.adoptedStyleSheets ?? []) {
    for (const rule of sheet.cssRules) {
      if (rule.type !== CSSRule.KEYFRAMES_RULE ||
          rule.name !== 'running-progress') continue;
      for (const frame of rule.cssRules) {
        for (const name of frame.style) names.add(name);
      }
    }
  }
  return [...names].sort();
}"""


def bar_keyframes(page) -> list[str]:
  return page.evaluate(_BAR_KEYFRAMES_JS)


def _clicks_from_the_url(cache, log_path, args, targets, rows,
                         table_rows) -> list[dict]:
  """Starts the server, opens the page as soon as the URL shows, clicks
  `rows`; checks that the warm-up was done before the URL."""
  if not os.access(browser.CHROMIUM, os.X_OK):
    pytest.fail(f"{browser.CHROMIUM} is missing: run `make browser`")
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  process, url, _ = start_server(cache, log_path, args)
  try:
    with sync_playwright() as playwright:
      chromium, page = open_page(playwright, url)
      try:
        seconds_to_table(page, url, table_rows)
        assert bar_keyframes(page) == ["transform"], bar_keyframes(page)
        done = clicks(page, log_path, targets, rows)
        page.screenshot(path=str(log_path.with_suffix(".png")))
      finally:
        chromium.close()
  finally:
    stop_server(process)
  text = log_path.read_text("utf-8", "replace")
  warmed = WARM_UP_DONE.search(text)
  assert warmed and int(warmed.group(1)) >= len(rows), text[-3000:]
  assert warmed.start() < SERVING.search(text).start()
  for click in done:  # From the click's arrival to its answer:
    assert click["compiled"] == 0, f"a program compiled: {click}"
    assert click["background"] == 0, f"background work ran: {click}"
  return done


def test_clicks_from_the_url_on_compile_nothing_beside_no_background(
    tiny_presets, tmp_path):
  data = tmp_path / "clicks.jsonl"
  data.write_text("".join(json.dumps(r) + "\n" for r in TINY_ROWS))
  browser.ARTIFACTS.mkdir(exist_ok=True)
  log_path = browser.ARTIFACTS / "first-click-tiny-server.log"
  done = _clicks_from_the_url(
      tmp_path / "cache", log_path,
      [f"--models=tiny:{tiny_presets['gemma3']}", f"--datasets=clicks:{data}",
       "--max_length=256", "--max_new_tokens=4"],
      [r["target"] for r in TINY_ROWS], (0, 1), len(TINY_ROWS))
  buckets = BUCKETS.findall(log_path.read_text("utf-8", "replace"))
  assert len(set(buckets)) >= 2, buckets  # Another length bucket too.
  assert len(done) == 2


@pytest.mark.real_model
@pytest.mark.slow
def test_first_clicks_on_the_embedded_model_from_the_url_on(tmp_path):
  from lit_gemma import paths  # pylint: disable=g-import-not-at-top
  from lit_gemma.lit import datasets as datasets_lib  # pylint: disable=g-import-not-at-top

  # A fresh response cache (the shipped responses are seeded into it); the
  # converted model and compiled programs come from the user's cache.
  cache = tmp_path / "cache"
  cache.mkdir()
  for link, target in (("models", paths.models_dir()),
                       ("jax", paths.jax_cache_dir())):
    target.mkdir(parents=True, exist_ok=True)
    (cache / link).symlink_to(target, target_is_directory=True)
  browser.ARTIFACTS.mkdir(exist_ok=True)
  targets = [ex["target"] for ex in datasets_lib.load(str(DATASET)).examples]
  _clicks_from_the_url(
      cache, browser.ARTIFACTS / "first-click-server.log",
      ["--models=gemma:embedded", f"--datasets=summarization:{DATASET}",
       f"--max_examples={MAX_EXAMPLES}"], targets, CLICKED_ROWS, MAX_EXAMPLES)
