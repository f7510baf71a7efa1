"""The product as a user sees it: the real server with the embedded Gemma 3
270M, driven in headless Chromium.

Select an example, pick its reference target, click the answer's last word:
the prompt's words must light up (non-zero salience, coloured chips) with no
error in the status bar. Then edit the prompt in the Datapoint Editor, add
it, and see salience for the new prompt. Screenshots go to test-artifacts/.

Waits are on what the page shows (rows, chips, scores), polled with generous
deadlines: on 2 busy CPU cores the first generation and salience requests
can take minutes.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import http_helpers
from http_helpers import free_port
import browser_ui
import repo

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

ROOT = repo.ROOT
DATASET = repo.BUNDLED / "arithmetic.csv"
NEW_WORDS = "Read the question twice before answering."


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
  """launch.py with the embedded model over two arithmetic prompts.

  The response cache is fresh (the page generates), while the converted
  model and the compiled programs come from the user's cache.
  """
  if not os.access(browser_ui.CHROMIUM, os.X_OK):
    pytest.fail(f"{browser_ui.CHROMIUM} is missing: run `make browser` (Debian's "
                "chromium package)")
  from lit_gemma import paths  # pylint: disable=g-import-not-at-top

  cache = tmp_path_factory.mktemp("browser") / "cache"
  cache.mkdir()
  for link, target in (("models", paths.models_dir()),
                       ("jax", paths.jax_cache_dir())):
    target.mkdir(parents=True, exist_ok=True)
    (cache / link).symlink_to(target, target_is_directory=True)
  browser_ui.ARTIFACTS.mkdir(exist_ok=True)
  log_path = browser_ui.ARTIFACTS / "browser-server.log"
  port = free_port()
  url = f"http://127.0.0.1:{port}"
  with open(log_path, "w") as log:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), "--models=gemma:embedded",
         f"--datasets=arithmetic:{DATASET}", "--max_examples=2",
         "--max_new_tokens=16", f"--port={port}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        env=dict(os.environ, LIT_GEMMA_CACHE=str(cache)))
  try:
    deadline = time.monotonic() + browser_ui.START_TIMEOUT_S
    while True:
      if process.poll() is not None:
        pytest.fail(f"server exited ({process.returncode}):\n"
                    f"{log_path.read_text()[-3000:]}")
      try:
        browser_ui.get_info(url)
        break
      except (urllib.error.URLError, ConnectionError):
        if time.monotonic() > deadline:
          pytest.fail(f"server not up after {browser_ui.START_TIMEOUT_S} s")
        time.sleep(1)
    yield url
  finally:
    http_helpers.stop_server(process)


@pytest.fixture
def page(server_url):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=browser_ui.CHROMIUM,
                                         args=browser_ui.CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(browser_ui.UI_TIMEOUT_S * 1000)
    # No internet here: refuse fonts and anything not from the server at
    # once rather than wait for a network timeout.
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(server_url)
               and route.request.resource_type != "font"
               else route.abort())
    page.goto(server_url)
    yield page
    browser.close()


def _explain_last_word(page) -> list[dict]:
  """Clicks the last chip (the answer's last word) and waits until some
  other chip has a non-zero score; returns every chip's state."""
  chips = browser_ui.chips(page)
  chips.last.click()
  deadline = time.monotonic() + browser_ui.UI_TIMEOUT_S
  while True:
    error = browser_ui.status_error(page)
    assert error is None, f"the status bar shows an error: {error}"
    state = chips.evaluate_all(browser_ui.CHIPS_JS)
    if state[-1]["selected"] and any(c["score"] for c in state[:-1]):
      return state
    assert time.monotonic() < deadline, f"no salience after {browser_ui.UI_TIMEOUT_S} s"
    page.wait_for_timeout(500)


def _assert_prompt_salient(state: list[dict], prompt: str) -> list[dict]:
  """The chips of the prompt's words have scores, and some are coloured."""
  words = len(prompt.split())
  prompt_chips = state[: words - 1]
  # The first chips are the prompt's first words (no <bos> chip).
  assert " ".join(c["text"] for c in prompt_chips).split()[:3] == (
      prompt.split()[:3])
  scored = [c for c in prompt_chips if c["score"] > 0]
  assert len(scored) >= len(prompt_chips) // 2, prompt_chips
  assert any(c["background"] not in ("", browser_ui.WHITE) for c in prompt_chips)
  return prompt_chips


def test_select_example_explain_answer_then_edit_prompt(page):
  # The data table lists the examples.
  rows = page.locator("data-table-module tbody tr", has_text="Question:")
  rows.first.wait_for()
  assert rows.count() == 2
  with open(DATASET, newline="") as f:
    import csv  # pylint: disable=g-import-not-at-top
    first = next(csv.DictReader(f))

  # Select the first example, explain the last word of its target.
  rows.first.click()
  browser_ui.choose_reference_target(page, first["target"])
  state = _explain_last_word(page)
  before = _assert_prompt_salient(state, first["prompt"])
  assert state[-1]["text"] == first["target"].split()[-1]
  assert browser_ui.status_error(page) is None
  page.screenshot(path=str(browser_ui.ARTIFACTS / "browser-salience.png"))

  # Edit the prompt in the Datapoint Editor and add it as a new example.
  editor = page.locator("single-datapoint-editor-module")
  prompt_box = editor.locator(".entry", has=page.locator(
      ".field-name", has_text="prompt")).locator("textarea")
  new_prompt = f"{NEW_WORDS}\n{first['prompt']}"
  prompt_box.fill(new_prompt)
  editor.locator("button#make").click()

  # The new example is selected: explain the same word again.
  browser_ui.choose_reference_target(page, first["target"])
  state = _explain_last_word(page)
  after = _assert_prompt_salient(state, new_prompt)
  texts = [c["text"] for c in after]
  assert "twice" in texts
  assert next(c["score"] for c in after if c["text"] == "twice") > 0
  assert [c["score"] for c in after] != [c["score"] for c in before]
  assert browser_ui.status_error(page) is None
  page.screenshot(path=str(browser_ui.ARTIFACTS / "browser-edited-prompt.png"))


# ------------------------------------------------- offline fonts (issue 13)

# Icon names LIT's page shows; drawn as a glyph each is one icon wide
# (about 24 px), spelled out as text it is several times wider.
_ICON_NAMES = ("arrow_drop_down", "expand_more", "expand_less", "settings",
               "search", "storage", "dashboard", "publish", "link")
_ICONS_JS = """(spans, names) => spans
  .filter(s => names.includes(s.innerText.trim()) && s.offsetWidth > 0)
  .map(s => ({name: s.innerText.trim(), width: s.getBoundingClientRect().width,
              height: s.getBoundingClientRect().height,
              family: getComputedStyle(s).fontFamily}))"""


def test_page_requests_nothing_outside_server_and_icons_are_glyphs(
    server_url):
  """Offline, the page's fonts come from the server: no request leaves it,
  and each Material icon is drawn as a glyph, not spelled out."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  requested = []
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=browser_ui.CHROMIUM,
                                         args=browser_ui.CHROMIUM_ARGS)
    try:
      page = browser.new_page(viewport={"width": 1400, "height": 900})
      page.set_default_timeout(browser_ui.UI_TIMEOUT_S * 1000)
      page.on("request", lambda request: requested.append(request.url))
      # Nothing outside the server is reachable here: refuse it at once
      # (it is still recorded above, and the assertion below fails).
      page.route("**/*", lambda route: route.continue_()
                 if route.request.url.startswith(server_url + "/")
                 else route.abort())
      page.goto(server_url)
      page.locator("data-table-module tbody tr").first.wait_for()
      page.evaluate("document.fonts.ready")
      loaded = page.evaluate("""() => [...document.fonts]
          .filter(f => f.status === 'loaded')
          .map(f => f.family.replace(/["']/g, ''))""")
      icons = page.locator("span.material-icon, i.material-icons, "
                           "mwc-icon").evaluate_all(_ICONS_JS,
                                                    list(_ICON_NAMES))
      page.screenshot(path=str(browser_ui.ARTIFACTS / "offline-fonts.png"))
    finally:
      browser.close()

  outside = [url for url in requested
             if not url.startswith(server_url + "/")]
  assert not outside, f"the page requested outside the server: {outside}"
  fonts = [url for url in requested if "/lit-gemma-fonts/" in url]
  assert any(url.endswith(".woff2") for url in fonts), requested
  assert {"Material Icons", "Roboto", "Google Sans"} <= set(loaded), loaded
  assert icons, "no Material icon found on the page"
  wide = [icon for icon in icons if icon["width"] > 2 * icon["height"]]
  assert not wide, f"icons drawn as their names: {wide}"
