"""The extra data-table columns as a user sees them, in headless Chromium:
the scoring model's likelihoods, the part shares and the hygiene columns
appear in LIT's data table, with values, for a tiny model served by
`launch.py` (the columns are what is checked here, not the numbers:
test_table_columns.py checks those).

The hygiene columns are dataset fields, shown at once. A model's columns
(`tiny_scores:target_loglik`, ...) come with that model selected, and LIT
1.3 lists every model-output column unticked under the data table's
"Columns" menu: the tests tick them, as a user does."""

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from http_helpers import free_port
from http_helpers import wait_for_info
import browser_ui
import test_table_columns
from lit_gemma.lit.columns import part_shares
import repo

pytestmark = pytest.mark.browser
LAUNCH = str(repo.LAUNCH)
HYGIENE = ("duplicate_group", "hygiene_flags", "near_duplicate",
           "eval_overlap", "query_form")
SCORES = ("target_loglik", "preference_margin", "ranks_preferred")


@pytest.fixture(scope="module")
def columns_url(tiny_presets, tmp_path_factory):
  tmp = tmp_path_factory.mktemp("browser_columns")
  pairs = tmp / "pairs.jsonl"
  pairs.write_text("".join(json.dumps(r) + "\n"
                           for r in test_table_columns.PAIRS))
  (tmp / "capitals.yaml").write_text(test_table_columns.TEMPLATE)
  port, log = free_port(), tmp / "server.log"
  with open(log, "w") as out:
    process = subprocess.Popen(
        [sys.executable, LAUNCH, f"--models=tiny:{tiny_presets['gemma3']}",
         f"--datasets=pairs:{pairs},capitals:{tmp / 'capitals.yaml'}",
         f"--port={port}", "--max_length=256", "--max_new_tokens=4",
         "--nowarm_up", "--part_columns"],
        stdout=out, stderr=subprocess.STDOUT,
        env=dict(os.environ, LIT_GEMMA_CACHE=str(tmp / "cache")))
  try:
    url = f"http://127.0.0.1:{port}"
    wait_for_info(url, process, log, seconds=240)
    yield url
  finally:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def _headers_and_cells(page):
  table = page.locator("lit-data-table")
  return (table.locator("th").evaluate_all("e => e.map(x => x.innerText)"),
          table.locator("td").evaluate_all("e => e.map(x => x.innerText)"))


@contextlib.contextmanager
def _opened(columns_url, query, screenshot):
  """LIT's page at `query`, saved to `screenshot` once the test's checks
  pass, then closed."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  playwright = sync_playwright().start()
  browser = playwright.chromium.launch(executable_path=browser_ui.CHROMIUM,
                                       args=browser_ui.CHROMIUM_ARGS)
  page = browser.new_page(viewport={"width": 1600, "height": 900})
  page.route("**/*", lambda route: route.continue_()
             if route.request.url.startswith(columns_url)
             and route.request.resource_type != "font" else route.abort())
  try:
    page.goto(f"{columns_url}/?{query}")
    yield page
    browser_ui.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(browser_ui.ARTIFACTS / screenshot))
  finally:
    browser.close()
    playwright.stop()


def _rows(headers, cells):
  """The table's rows as lists of cell texts (not its blank filler row)."""
  width = len(headers)
  rows = [cells[i:i + width] for i in range(0, len(cells), width)]
  return [r for r in rows if len(r) == width and r[0].strip().isdigit()]


def _show_model_columns(page, names, seconds=240):
  """Ticks `names` under the data table's Columns menu until the table
  shows them; returns (headers, cells). A column is listed there once the
  model's predictions came back, so its cells have values then. LIT
  resets the ticks whenever another model's columns arrive (the
  generation model's `tiny:response`), so this ticks again until they
  stay."""
  deadline = time.monotonic() + seconds
  module = page.locator("data-table-module")
  while True:
    headers, cells = _headers_and_cells(page)
    if all(n in headers for n in names):
      return headers, cells
    for name in names:
      box = module.locator(f"lit-checkbox.column-select[label='{name}']")
      if box.count() and box.get_attribute("checked") is None:
        if not box.is_visible():  # the Columns menu is closed
          module.locator("button:visible", has_text="Columns").click()
        box.locator(".checkbox-label").click()
    assert time.monotonic() < deadline, f"columns missing: {headers}"
    page.wait_for_timeout(500)


def _wait_for(page, wanted, seconds=240):
  deadline = time.monotonic() + seconds
  while True:
    headers, cells = _headers_and_cells(page)
    text = " ".join(headers)
    if all(w in text for w in wanted) and cells:
      return headers, cells
    assert time.monotonic() < deadline, f"columns missing: {headers}"
    page.wait_for_timeout(500)


def test_hygiene_columns_show_in_the_data_table(columns_url):
  with _opened(columns_url, "dataset=pairs", "columns-hygiene.png") as page:
    # The column headers (cell values: the table renders them lazily, and
    # test_table_columns.py checks them through /get_dataset).
    _wait_for(page, HYGIENE)


def test_scoring_columns_show_in_the_data_table(columns_url):
  with _opened(columns_url, "models=tiny,tiny_scores&dataset=pairs",
               "columns-pairs.png") as page:
    names = [f"tiny_scores:{n}" for n in SCORES]
    headers, cells = _show_model_columns(page, names)
    loglik, margin, ranks = (headers.index(n) for n in names)
    rows = _rows(headers, cells)
    assert len(rows) == 6, rows  # two datapoints per preference pair
    assert all(float(r[loglik]) < 0 for r in rows), rows  # log-likelihoods
    # The yes/no, drawn as 1 / -1 (LIT's table shows no CategoryLabel
    # output; 0 is "not a pair"), agrees with the margin's sign and is one
    # per pair.
    for first, second in zip(rows[::2], rows[1::2]):
      assert first[ranks] == second[ranks] in ("-1", "1"), rows
      assert (float(first[margin]) >= 0) if first[ranks] == "1" else (
          float(first[margin]) <= 0), rows


def test_part_share_columns_show_in_the_data_table(columns_url):
  with _opened(columns_url, "models=tiny,tiny_parts&dataset=capitals",
               "columns-parts.png") as page:
    # LIT's data table draws Scalar outputs, not CategoryLabel ones such
    # as `top_part`.
    names = [f"tiny_parts:{n}" for n in part_shares.OUTPUTS[:3]]
    headers, cells = _show_model_columns(page, names)
    rows = _rows(headers, cells)
    assert len(rows) == 3, rows
    columns = [headers.index(n) for n in names]
    for row in rows:  # shares of one whole: each in (0, 1), adding up to 1
      shares = [float(row[c]) for c in columns]
      assert all(0 < x < 1 for x in shares), rows
      assert sum(shares) == pytest.approx(1, abs=0.01), rows
