"""The first clicks on a freshly started server compile nothing (issue 13).

The real server with the embedded Gemma 3 270M over a bundled set, driven
in headless Chromium: once the log says the warm-up is done, explain the
last word of one example's target, then of an example in another length
bucket. The server logs one line per salience request with the programs
it compiled; every click's line must say 0. `benchmarks/server.py
--browser` runs `first_clicks` for its timings.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.error

import pytest

import http_helpers
from http_helpers import free_port
import browser_ui as browser
import repo

pytestmark = [pytest.mark.browser, pytest.mark.real_model, pytest.mark.slow]

DATASET = repo.BUNDLED / "summarization.yaml"
# Examples 0 and 2 of summarization.yaml: about 134 and 121 tokens with
# their targets, so buckets 192 and 128.
CLICKED_ROWS = (0, 2)
MAX_EXAMPLES = 3
WARM_UP_DONE = re.compile(r"warm-up done: (\d+) buckets in ([\d.]+) s")
SALIENCE_LINE = re.compile(
    r"salience of .* in ([\d.]+) s, (\d+) programs compiled during it")


def start_server(cache: pathlib.Path, log_path: pathlib.Path,
                 dataset: pathlib.Path = DATASET,
                 max_examples: int = MAX_EXAMPLES):
  """launch.py over the bundled set on a private cache root; returns
  (process, url, seconds from start to /get_info)."""
  port = free_port()
  url = f"http://127.0.0.1:{port}"
  start = time.monotonic()
  with open(log_path, "w") as log:
    process = subprocess.Popen(
        [sys.executable, str(browser.ROOT / "launch.py"),
         "--models=gemma:embedded", f"--datasets=summarization:{dataset}",
         f"--max_examples={max_examples}", "--max_new_tokens=16",
         f"--port={port}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=browser.ROOT,
        env=dict(os.environ, LIT_GEMMA_CACHE=str(cache)))
  deadline = time.monotonic() + browser.START_TIMEOUT_S
  while True:
    if process.poll() is not None:
      raise RuntimeError(f"server exited ({process.returncode}):\n"
                         f"{log_path.read_text()[-3000:]}")
    try:
      browser.get_info(url)
      return process, url, time.monotonic() - start
    except (urllib.error.URLError, ConnectionError):
      if time.monotonic() > deadline:
        raise RuntimeError(f"server not up after {browser.START_TIMEOUT_S} s")
      time.sleep(0.2)


stop_server = http_helpers.stop_server


def wait_for_warm_up(log_path: pathlib.Path, timeout: float = 1800
                     ) -> tuple[int, float]:
  """(buckets, seconds) from the server's "warm-up done" line."""
  deadline = time.monotonic() + timeout
  while not (found := WARM_UP_DONE.search(log_path.read_text("utf-8",
                                                             "replace"))):
    if time.monotonic() > deadline:
      raise RuntimeError(f"no 'warm-up done' in the log after {timeout} s")
    time.sleep(0.5)
  return int(found.group(1)), float(found.group(2))


def salience_lines(log_path: pathlib.Path) -> list[tuple[float, int]]:
  """(seconds, programs compiled) of every logged salience request."""
  return [(float(s), int(n)) for s, n in
          SALIENCE_LINE.findall(log_path.read_text("utf-8", "replace"))]


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


def click_to_salience(page, row: int, target_text: str) -> float:
  """Selects data-table row `row`, picks its reference target, clicks the
  target's last word: seconds from that click to drawn salience."""
  page.locator("data-table-module tbody tr").nth(row).click()
  browser.choose_reference_target(page, target_text)
  chips = browser.chips(page)
  chips.last.wait_for()
  start = time.monotonic()
  chips.last.click()
  deadline = start + browser.UI_TIMEOUT_S
  while True:
    error = browser.status_error(page)
    assert error is None, f"the status bar shows an error: {error}"
    state = chips.evaluate_all(browser.CHIPS_JS)
    if state[-1]["selected"] and any(c["score"] for c in state[:-1]):
      seconds = time.monotonic() - start
      assert state[-1]["text"] == target_text.split()[-1], state[-1]
      return seconds
    assert time.monotonic() < deadline, "no salience drawn"
    page.wait_for_timeout(50)


def first_clicks(page, log_path: pathlib.Path, targets: list[str],
                 rows: tuple[int, ...] = CLICKED_ROWS) -> list[dict]:
  """The first clicks on `rows` after warm-up: seconds and the programs
  the server compiled for each click's salience requests."""
  results = []
  for row in rows:
    before = len(salience_lines(log_path))
    seconds = click_to_salience(page, row, targets[row])
    time.sleep(0.5)  # The request's line is logged as it answers.
    lines = salience_lines(log_path)[before:]
    results.append({"row": row, "seconds": seconds, "requests": lines,
                    "compiled": sum(n for _, n in lines)})
  return results


def bundled_targets(dataset: pathlib.Path = DATASET) -> list[str]:
  from lit_gemma.lit import datasets as datasets_lib  # pylint: disable=g-import-not-at-top
  return [ex["target"] for ex in datasets_lib.load(str(dataset)).examples]


def test_first_clicks_after_warm_up_compile_nothing(tmp_path):
  if not os.access(browser.CHROMIUM, os.X_OK):
    pytest.fail(f"{browser.CHROMIUM} is missing: run `make browser`")
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  from lit_gemma import paths  # pylint: disable=g-import-not-at-top

  # A fresh response cache; the converted model and compiled programs
  # come from the user's cache (as after `make serve`'s preparation).
  cache = tmp_path / "cache"
  cache.mkdir()
  for link, target in (("models", paths.models_dir()),
                       ("jax", paths.jax_cache_dir())):
    target.mkdir(parents=True, exist_ok=True)
    (cache / link).symlink_to(target, target_is_directory=True)
  browser.ARTIFACTS.mkdir(exist_ok=True)
  log_path = browser.ARTIFACTS / "first-click-server.log"
  process, url, _ = start_server(cache, log_path)
  try:
    buckets, _ = wait_for_warm_up(log_path)
    assert buckets >= 2  # Lengths 128 and 192 at least.
    with sync_playwright() as playwright:
      chromium, page = open_page(playwright, url)
      try:
        seconds_to_table(page, url, MAX_EXAMPLES)
        clicks = first_clicks(page, log_path, bundled_targets())
        page.screenshot(path=str(browser.ARTIFACTS / "first-click.png"))
      finally:
        chromium.close()
  finally:
    stop_server(process)
  for click in clicks:
    assert click["requests"], f"no salience request logged: {click}"
    assert click["compiled"] == 0, (
        f"a first click compiled programs: {click}\n"
        f"{log_path.read_text()[-3000:]}")
