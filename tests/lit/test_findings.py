"""Findings over HTTP, as LIT's client sends them, on real servers with a
tiny model: a team server behind (the test's own) IAP and a local one
without. What a finding keeps, who it names, what is refused (one line,
4xx), and that nothing changes or removes one. The browser test
(tests/deploy/test_team_findings.py) drives the same through LIT's UI
under gunicorn."""

from __future__ import annotations

import json
import os

import pytest

import iap_tokens
from http_helpers import assert_short_error
from http_helpers import send
from lit_gemma.findings import store as store_lib
from lit_gemma.lit import findings
from served import PROMPTS
from served import server_config
from served import served as _served


@pytest.fixture(scope="module")
def signer():
  return iap_tokens.Signer()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
  root = tmp_path_factory.mktemp("findings")
  return {"team": root / "team", "local": root / "local", "keys": root}


@pytest.fixture(scope="module")
def team(tiny_preset, tiny_lm, prompts_file, folders, signer):
  keys = signer.write_keys(folders["keys"] / "keys.json")
  config = server_config(
      tiny_preset, prompts_file, team_mode=True,
      findings_dir=str(folders["team"]), max_note_chars=40,
      iap_audience=iap_tokens.AUDIENCE, iap_keys=str(keys))
  with _served(config, lms={"tiny": tiny_lm}) as served:
    yield served


@pytest.fixture(scope="module")
def local(tiny_preset, tiny_lm, prompts_file, folders):
  config = server_config(tiny_preset, prompts_file,
                         findings_dir=str(folders["local"]))
  with _served(config, lms={"tiny": tiny_lm}) as served:
    yield served


def _edited(note, author="", source="manual", **data):
  """What the Datapoint Editor's Add sends (LIT's makeModifiedInput)."""
  meta = {"added": True, "source": source, "parentId": "parent-id"}
  fields = dict(PROMPTS[1], note=note, author=author) | data
  return {"id": "", "data": fields | {"_id": "", "_meta": meta}, "meta": meta}


def _annotate(served, example, token=None, dataset="prompts", headers=None):
  headers = dict(headers or {})
  if token is not None:
    headers |= iap_tokens.header(token)
  return send(served, "POST", "/annotate_new_data", f"dataset_name={dataset}",
              {"inputs": [example]}, headers)


def _kept(folder):
  return {name: (folder / name).read_bytes() for name in os.listdir(folder)}


def test_a_note_keeps_a_finding_with_its_verified_author_and_span(
    team, folders, signer):
  alice = signer.token("alice@example.com")
  tokens = send(team, "POST", "/get_preds",
                "model=_tiny_tokenizer&dataset_name=prompts",
                {"inputs": [{"id": "x", "data": dict(PROMPTS[1], _id="x"),
                             "meta": {}}]})[2][0]["tokens"]
  mask = [0] * len(tokens)
  mask[-2] = 1  # A token of the target.
  salience = {"id": "x", "data": dict(PROMPTS[1], target_mask=mask,
                                      _id="x"), "meta": {}}
  status, _, answer = send(team, "POST", "/get_preds",
                           "model=_tiny_salience&dataset_name=prompts",
                           {"inputs": [salience]}, iap_tokens.header(alice))
  assert status == 200, answer
  status, _, answer = _annotate(team, _edited("the water claim", "typed",
                                              topic="x"), alice)
  assert status == 200, answer
  assert answer[0]["data"]["author"] == "alice@example.com"  # Not "typed".
  (record,) = store_lib.read(str(folders["team"]))
  assert record["author"] == "alice@example.com" and record["verified"]
  assert record["note"] == "the water claim"
  assert record["dataset"] == "prompts" and record["parent"] == "parent-id"
  assert record["data"] == dict(PROMPTS[1], topic="x")  # As LIT gave them.
  assert record["span"]["target_mask"] == mask
  assert record["span"]["target"] == PROMPTS[1]["target"]
  assert record["span"]["model"] == "tiny"
  assert record["span"]["text"] == tokens[-2].replace("\u2581", " ")


def test_no_note_or_a_link_keeps_nothing(team, folders, signer):
  before = _kept(folders["team"])
  alice = signer.token("alice@example.com")
  assert _annotate(team, _edited(""), alice)[0] == 200
  assert _annotate(team, _edited("from a link", source="url"), alice)[0] == 200
  assert _kept(folders["team"]) == before


@pytest.mark.parametrize("who", ["unsigned", "forged", "tampered", "bare",
                                 "other audience"])
def test_an_assertion_that_does_not_verify_names_no_author(team, folders,
                                                           signer, who):
  before = _kept(folders["team"])
  good = signer.token("alice@example.com")
  token, headers = {
      "unsigned": (iap_tokens.unsigned("mallory@example.com"), {}),
      "forged": (iap_tokens.Signer(kid=signer.kid).token(
          "mallory@example.com"), {}),
      "tampered": (iap_tokens.tampered(good, "mallory@example.com"), {}),
      "bare": (None, {"X-Goog-Authenticated-User-Email":
                      "accounts.google.com:mallory@example.com"}),
      "other audience": (signer.token("mallory@example.com",
                                      audience="/projects/1/other"), {}),
  }[who]
  status, _, answer = _annotate(team, _edited("mine now", "mallory"), token,
                                headers=headers)
  assert status == 401, answer
  assert_short_error(answer)
  assert answer.startswith(("the IAP assertion", "the request has no"))
  assert _kept(folders["team"]) == before


def test_the_findings_dataset_lists_them_with_author_and_time(team, signer):
  bob = signer.token("bob@example.com")
  assert _annotate(team, _edited("bob's finding"), bob)[0] == 200
  status, _, rows = send(team, "POST", "/get_dataset",
                         f"dataset_name={findings.DATASET}")
  assert status == 200
  by_note = {r["data"]["note"]: r["data"] for r in rows}
  assert by_note["bob's finding"]["author"] == "bob@example.com"
  assert by_note["the water claim"]["author"] == "alice@example.com"
  assert by_note["the water claim"]["span"]
  assert all(r["data"]["created"].endswith("Z") for r in rows)
  info = send(team, "POST", "/get_info")[2]
  assert info["datasets"][findings.DATASET]["size"] == len(rows)
  assert "note" in info["datasets"]["prompts"]["spec"]
  # Editing a finding and adding it with a note: a new finding, the old kept.
  old = by_note["bob's finding"]
  status, _, answer = _annotate(
      team, _edited("bob's correction", **{k: v for k, v in old.items()
                                           if not k.startswith("_")
                                           and k != "note"}),
      bob, dataset=findings.DATASET)
  assert status == 200, answer
  rows = send(team, "POST", "/get_dataset",
              f"dataset_name={findings.DATASET}")[2]
  notes = [r["data"]["note"] for r in rows]
  assert "bob's finding" in notes and "bob's correction" in notes
  new = next(r for r in rows if r["data"]["note"] == "bob's correction")
  assert new["id"] == answer[0]["id"]  # The link the author's page shows.


def test_no_request_changes_or_removes_a_finding(team, folders):
  before = _kept(folders["team"])
  for method, path, query, body, status in (
      ("DELETE", "/get_dataset", "dataset_name=findings", None, 405),
      ("PUT", "/annotate_new_data", "dataset_name=findings", {}, 405),
      ("POST", "/save_datapoints", "dataset_name=findings&path=x",
       {"inputs": []}, 403),
      ("POST", "/load_datapoints", "dataset_name=findings&path=x", {}, 403),
      ("POST", "/post_new_data", "dataset_name=findings", {"inputs": []}, 403),
      ("POST", "/remove_new_data",
       f"saved_datapoints_id={next(iter(before))[:-5]}", None, 404)):
    got, _, answer = send(team, method, path, query, body)
    assert got == status, (path, answer)
    assert_short_error(answer)
  assert _kept(folders["team"]) == before


def test_bounds_are_refused_in_one_line(team, folders, signer):
  carol = signer.token("carol@example.com")
  status, _, answer = _annotate(team, _edited("n" * 41), carol)
  assert status == 400
  assert answer.startswith("the note is 41 characters, over the limit of 40 "
                           "(--max_note_chars)")
  statuses = [_annotate(team, _edited(f"flood {i}"), carol)[0]
              for i in range(store_lib.DEFAULT_PER_AUTHOR_PER_MINUTE + 1)]
  assert statuses[:-1] == [200] * store_lib.DEFAULT_PER_AUTHOR_PER_MINUTE
  status, _, answer = _annotate(team, _edited("one more"), carol)
  assert status == 429 and "wait a minute" in answer
  assert_short_error(answer)
  kept = len(os.listdir(folders["team"]))
  store = team.app.findings_desk.store
  store.max_findings, limit = kept, store.max_findings
  try:
    status, _, answer = _annotate(team, _edited("full"),
                                  signer.token("dave@example.com"))
  finally:
    store.max_findings = limit
  assert status == 403 and "findings are full" in answer
  assert len(os.listdir(folders["team"])) == kept


def test_without_iap_the_typed_name_is_marked_unverified(local, folders):
  status, _, answer = _annotate(local, _edited("local finding", " Eve  B "),
                                headers={"X-Goog-Authenticated-User-Email":
                                         "accounts.google.com:boss@x.com"})
  assert status == 200, answer
  assert answer[0]["data"]["author"] == "Eve B (unverified)"
  (record,) = store_lib.read(str(folders["local"]))
  assert (record["author"], record["verified"]) == ("Eve B", False)
  status, _, answer = _annotate(local, _edited("no name"))
  assert status == 400 and answer.startswith("type your name in the author "
                                             "field")


def test_a_restart_keeps_them(tiny_preset, tiny_lm, prompts_file, folders,
                              team):
  expected = send(team, "POST", "/get_dataset",
                  f"dataset_name={findings.DATASET}")[2]
  config = server_config(tiny_preset, prompts_file,
                         findings_dir=str(folders["team"]))
  with _served(config, lms={"tiny": tiny_lm}) as again:
    rows = send(again, "POST", "/get_dataset",
                f"dataset_name={findings.DATASET}")[2]
  assert [r["data"] for r in rows] == [r["data"] for r in expected]
  assert json.dumps(rows)  # Plain JSON.


# ------------------------------------------------------------ settings


@pytest.mark.parametrize("kw, message", [
    (dict(iap_audience="/projects/1/x"),
     "--iap_audience names the authors of findings: give --findings_dir"),
    (dict(findings_dir="DATA/kept", data_root="DATA"),
     "--findings_dir=DATA/kept is inside --data_root"),
    (dict(findings_dir="F", datasets=(("findings", "x.jsonl"),)),
     "--datasets: the name 'findings' is the team's findings"),
    (dict(findings_dir="F", iap_keys="no/such/keys.json"),
     "--iap_keys=no/such/keys.json: neither a URL nor a file"),
    (dict(findings_dir="F", max_findings=0),
     "--max_findings=0: must be a whole number >= 1"),
    (dict(findings_dir="F", max_note_chars=0),
     "--max_note_chars=0: must be a whole number >= 1"),
])
def test_findings_settings_are_checked(tmp_path, kw, message):
  from lit_gemma.serve import config as config_lib  # pylint: disable=g-import-not-at-top

  (tmp_path / "DATA").mkdir()
  kw = {k: (v.replace("DATA", str(tmp_path / "DATA")).replace(
      "F", str(tmp_path / "F")) if isinstance(v, str) and k != "iap_keys"
            else v) for k, v in kw.items()}
  with pytest.raises(config_lib.ConfigError) as e:
    config_lib.ServerConfig(**kw)
  assert str(e.value).startswith(message.replace(
      "DATA", str(tmp_path / "DATA"))), str(e.value)
