"""The LIT UI in headless Chromium, as the browser tests drive it: Debian's
chromium (never `playwright install`), the Sequence Salience module's chips
and the status bar's errors."""

import contextlib
import json
import time
import urllib.request

import repo

ROOT = repo.ROOT
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
START_TIMEOUT_S = 900  # The first start converts the GGUF (minutes).
UI_TIMEOUT_S = 600

# Each chip of the Sequence Salience module: its text, the score in its
# tooltip, its background colour and whether it is the selected target.
CHIPS_JS = """chips => chips.map(chip => ({
  text: chip.innerText.trim(),
  score: Number(chip.querySelector('lit-tooltip')?.getAttribute('content')),
  background: getComputedStyle(chip).getPropertyValue('--token-bg-color')
      .trim(),
  selected: chip.classList.contains('selected'),
}))"""
WHITE = "rgb(255, 255, 255)"


def get_info(url: str) -> dict:
  request = urllib.request.Request(
      f"{url}/get_info", data=b"{}", method="POST",
      headers={"Content-Type": "application/json"})
  with urllib.request.urlopen(request, timeout=30) as response:
    return json.loads(response.read())


def status_error(page) -> str | None:
  errors = page.locator("lit-app-statusbar div.error")
  return errors.first.inner_text() if errors.count() else None


def salience_module(page):
  return page.locator("sequence-salience-module")


def chips(page):
  return salience_module(page).locator(
      "sequence-salience-chips .salient-token")


def choose_reference_target(page, target_text: str) -> None:
  """In the module's "Choose a sequence to explain", the dataset's target."""
  option = salience_module(page).locator(
      ".interstitial-target-option", has_text=target_text.splitlines()[-1])
  option.first.click()
  chips(page).first.wait_for()


# The data table, as the column tests read it.


def headers_and_cells(page, module: str = "data-table-module"):
  """(header texts, cell texts) of `module`'s table."""
  table = page.locator(f"{module} lit-data-table")
  return (table.locator("th").evaluate_all("e => e.map(x => x.innerText)"),
          table.locator("td").evaluate_all("e => e.map(x => x.innerText)"))


@contextlib.contextmanager
def opened(url, query, screenshot):
  """LIT's page at `query`, saved to `screenshot` once the test's checks
  pass, then closed."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  playwright = sync_playwright().start()
  browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                       args=CHROMIUM_ARGS)
  page = browser.new_page(viewport={"width": 1600, "height": 900})
  page.route("**/*", lambda route: route.continue_()
             if route.request.url.startswith(url)
             and route.request.resource_type != "font" else route.abort())
  try:
    page.goto(f"{url}/?{query}")
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot))
  finally:
    browser.close()
    playwright.stop()


def table_rows(headers, cells):
  """The table's rows as lists of cell texts (not its blank filler row)."""
  width = len(headers)
  rows = [cells[i:i + width] for i in range(0, len(cells), width)]
  return [r for r in rows if len(r) == width and r[0].strip().isdigit()]


def show_model_columns(page, names, seconds=240):
  """Ticks `names` under the data table's Columns menu until the table
  shows them; returns (headers, cells). A column is listed there once the
  model's predictions came back, so its cells have values then. LIT
  resets the ticks whenever another model's columns arrive (the
  generation model's `tiny:response`), so this ticks again until they
  stay."""
  deadline = time.monotonic() + seconds
  module = page.locator("data-table-module")
  while True:
    headers, cells = headers_and_cells(page)
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
