"""Findings on a team server, as teammates meet them: the Cloud Run image's
gunicorn command (container.py) with --findings_dir and IAP, a tiny model
so the clicks are quick, and headless Chromium where each teammate's
browser carries the assertion IAP would add (signed by the test's key).

Alice and Bob each explain a span, type a note and press Add; each then
sees both findings with the right author; a link to one opens it for the
other; a forged assertion keeps nothing and says so; an over-size note and
a flood are refused in one line; no request changes or removes a finding;
a restarted server lists them all again.
"""

from __future__ import annotations

import os
import time
import types
import urllib.parse

import pytest

import browser_ui
import container
import iap_tokens
from http_helpers import assert_short_error
from http_helpers import send
from lit_gemma.findings import store as store_lib
from lit_gemma.lit import findings

pytestmark = [pytest.mark.browser]

ALICE, BOB = "alice@example.com", "bob@example.com"
NOTES = {ALICE: "Paris rests on 'capital', not on France",
         BOB: "Bees: 'dance' carries the answer"}
MAX_NOTE = 200


@pytest.fixture(scope="module")
def team(tmp_path_factory, tiny_preset, prompts_file):
  tmp = tmp_path_factory.mktemp("team_findings")
  signer = iap_tokens.Signer()
  keys = signer.write_keys(tmp / "keys.json")
  folder = tmp / "findings"
  flags = (f"--models=tiny:{tiny_preset} --datasets=prompts:{prompts_file} "
           f"--max_new_tokens=8 --findings_dir={folder} "
           f"--iap_audience={iap_tokens.AUDIENCE} --iap_keys={keys} "
           f"--max_note_chars={MAX_NOTE}")
  image = container.ServedImage(tmp_path_factory.mktemp("first"),
                                more_flags=flags)
  state = types.SimpleNamespace(image=image, signer=signer, folder=folder,
                                flags=flags, url=image.url)
  try:
    yield state
  finally:
    state.image.close()


@pytest.fixture(scope="module")
def browser():
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  with sync_playwright() as playwright:
    chromium = playwright.chromium.launch(
        executable_path=browser_ui.CHROMIUM, args=browser_ui.CHROMIUM_ARGS)
    yield chromium
    chromium.close()


def _page(browser, url: str, token: str | None, path: str = "/"):
  """A teammate's page: IAP's assertion on every request to the server."""
  context = browser.new_context(
      viewport={"width": 1400, "height": 1000},
      extra_http_headers=iap_tokens.header(token) if token else {})
  page = context.new_page()
  page.set_default_timeout(browser_ui.UI_TIMEOUT_S * 1000)
  page.route("**/*", lambda route: route.continue_()
             if route.request.url.startswith(url)
             and route.request.resource_type != "font" else route.abort())
  page.goto(url + path)
  page.locator("data-table-module tbody tr").first.wait_for()
  return page


def _editor_field(page, name: str):
  editor = page.locator("single-datapoint-editor-module")
  return editor.locator(".entry", has=page.locator(
      ".field-name", has_text=name)).locator("textarea, input")


def _explain_last_word(page, row_text: str, target: str) -> str:
  """Selects the row, explains the target's last word; its chip text."""
  page.locator("data-table-module tbody tr", has_text=row_text).first.click()
  browser_ui.choose_reference_target(page, target)
  chips = browser_ui.chips(page)
  chips.last.click()
  deadline = time.monotonic() + browser_ui.UI_TIMEOUT_S
  while True:
    assert browser_ui.status_error(page) is None, browser_ui.status_error(page)
    state = chips.evaluate_all(browser_ui.CHIPS_JS)
    if state[-1]["selected"] and any(c["score"] for c in state[:-1]):
      return state[-1]["text"]
    assert time.monotonic() < deadline
    page.wait_for_timeout(300)


def _add_with_note(page, note: str) -> None:
  _editor_field(page, "note").fill(note)
  page.locator("single-datapoint-editor-module button#make").click()


def _wait_for(page, what) -> str:
  """Polls until `what(page)` is truthy or the status bar shows an error;
  the error (or None)."""
  deadline = time.monotonic() + 120
  while not what(page):
    error = browser_ui.status_error(page)
    if error:
      return error
    assert time.monotonic() < deadline, "nothing happened in 120 s"
    page.wait_for_timeout(300)
  return browser_ui.status_error(page)


def _rows(page, *texts: str) -> int:
  """How many data-table rows hold every one of `texts`."""
  rows = page.locator("data-table-module tbody tr")
  for text in texts:
    rows = rows.filter(has_text=text)
  return rows.count()


def _kept(folder):
  return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder))}


def test_two_teammates_keep_findings_and_open_each_others(team, browser):
  pages = {who: _page(browser, team.url, team.signer.token(who, lifetime=3600))
           for who in (ALICE, BOB)}
  rows = {ALICE: ("The capital of France", " Paris."),
          BOB: ("Bees dance", " where flowers are.")}
  explained = {}
  for who, page in pages.items():
    explained[who] = _explain_last_word(page, *rows[who])
    _add_with_note(page, NOTES[who])
    assert _wait_for(page, lambda p, n=NOTES[who]: _rows(p, n)) is None
  kept = store_lib.read(str(team.folder))
  assert {(f["author"], f["verified"], f["note"]) for f in kept} == {
      (ALICE, True, NOTES[ALICE]), (BOB, True, NOTES[BOB])}
  for finding in kept:  # The span each explained, as its target mask.
    who = finding["author"]
    assert finding["span"]["text"].strip() == explained[who].strip()
    mask = "".join(str(int(m)) for m in finding["span"]["target_mask"])
    assert mask.strip("0") and "0" not in mask.strip("0"), mask  # One run.

  # Each sees both, with the right author, in the findings dataset.
  for who, page in pages.items():
    page.goto(f"{team.url}/?dataset={findings.DATASET}")
    assert _wait_for(page, lambda p: _rows(p, "@example.com") == 2) is None
    for author, note in NOTES.items():
      assert _rows(page, author, note) == 1, (who, author)

  # Bob selects his finding: the address bar is its link; Alice opens it.
  bob = pages[BOB]
  bob.locator("data-table-module tbody tr", has_text=NOTES[BOB]).click()
  assert _wait_for(bob, lambda p: "primary=" in p.url) is None
  link = bob.url
  assert urllib.parse.parse_qs(urllib.parse.urlparse(link).query)[
      "dataset"] == [findings.DATASET]
  alice = pages[ALICE]
  alice.goto(link)
  assert _wait_for(alice, lambda p: _editor_field(p, "note").count() and (
      _editor_field(p, "note").input_value() == NOTES[BOB])) is None
  assert _editor_field(alice, "author").input_value() == BOB
  alice.screenshot(path=str(browser_ui.ARTIFACTS / "team-findings-link.png"))
  for page in pages.values():
    page.context.close()


def test_a_forged_assertion_keeps_nothing_and_says_so(team, browser):
  before = _kept(team.folder)
  forged = iap_tokens.Signer(kid=team.signer.kid).token(ALICE)
  page = _page(browser, team.url, forged)
  page.locator("data-table-module tbody tr").first.click()
  _add_with_note(page, "a finding in Alice's name")
  error = _wait_for(page, browser_ui.status_error)
  assert error and "signature does not match its key" in error, error
  assert _kept(team.folder) == before
  page.context.close()
  for token in (iap_tokens.unsigned(ALICE), None):
    status, _, answer = send(team.image, "POST", "/annotate_new_data",
                             "dataset_name=prompts", {"inputs": [_edited(
                                 "mine")]}, iap_tokens.header(token)
                             if token else {"X-Goog-Authenticated-User-Email":
                                            f"accounts.google.com:{ALICE}"})
    assert status == 401, answer
    assert_short_error(answer)
  assert _kept(team.folder) == before


def _edited(note: str) -> dict:
  meta = {"added": True, "source": "manual", "parentId": None}
  return {"id": "", "meta": meta, "data": {
      "prompt": "Water is made of", "target": " hydrogen.", "note": note,
      "author": "", "_id": "", "_meta": meta}}


def test_oversize_note_and_flood_are_refused_in_one_line(team, browser):
  carol = team.signer.token("carol@example.com", lifetime=3600)
  page = _page(browser, team.url, carol)
  page.locator("data-table-module tbody tr").first.click()
  _add_with_note(page, "x" * (MAX_NOTE + 1))
  error = _wait_for(page, browser_ui.status_error)
  assert error and (f"the note is {MAX_NOTE + 1} characters, over the limit "
                    f"of {MAX_NOTE} (--max_note_chars)") in error, error
  page.context.close()
  statuses = []
  for i in range(store_lib.DEFAULT_PER_AUTHOR_PER_MINUTE + 1):
    status, _, answer = send(team.image, "POST", "/annotate_new_data",
                             "dataset_name=prompts",
                             {"inputs": [_edited(f"flood {i}")]},
                             iap_tokens.header(carol))
    statuses.append(status)
  assert statuses == [200] * store_lib.DEFAULT_PER_AUTHOR_PER_MINUTE + [429]
  assert_short_error(answer)
  assert answer.startswith(f"carol@example.com kept "
                           f"{store_lib.DEFAULT_PER_AUTHOR_PER_MINUTE} "
                           f"findings in the last minute")


def test_no_request_changes_or_removes_a_finding(team):
  before = _kept(team.folder)
  some = next(iter(before)).removesuffix(".json")
  for method, path, query, body, status in (
      ("DELETE", "/get_dataset", "dataset_name=findings", None, 405),
      ("PUT", "/annotate_new_data", "dataset_name=findings", {}, 405),
      ("POST", "/save_datapoints", f"dataset_name=findings&path={some}.json",
       {"inputs": []}, 403),
      ("POST", "/load_datapoints", "dataset_name=findings&path=x", {}, 403),
      ("POST", "/post_new_data", "dataset_name=findings", {"inputs": []}, 403),
      ("POST", "/create_dataset", "dataset_name=findings",
       {"config": {"new_name": "findings"}}, 403),
      ("POST", "/remove_new_data", f"saved_datapoints_id={some}", None, 404)):
    got, _, answer = send(team.image, method, path, query, body)
    assert got == status, (method, path, answer)
    assert_short_error(answer)
  assert _kept(team.folder) == before


def test_a_restart_keeps_them(team, tmp_path_factory):
  before = send(team.image, "POST", "/get_dataset",
                f"dataset_name={findings.DATASET}")[2]
  team.image.close()
  team.image = container.ServedImage(tmp_path_factory.mktemp("again"),
                                     more_flags=team.flags, prepare=False)
  after = send(team.image, "POST", "/get_dataset",
               f"dataset_name={findings.DATASET}")[2]
  assert [r["data"] for r in after] == [r["data"] for r in before]
  assert {ALICE, BOB} <= {r["data"]["author"] for r in after}
