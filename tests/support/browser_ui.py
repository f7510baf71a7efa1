"""The LIT UI in headless Chromium, as the browser tests drive it: Debian's
chromium (never `playwright install`), the Sequence Salience module's chips
and the status bar's errors."""

import json
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
