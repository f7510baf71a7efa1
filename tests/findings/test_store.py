"""The findings store as a team relies on it: what is kept is read back
whole after a restart and by another instance on the same folder; nothing
is ever rewritten; each bound is refused at its edge in one line; and the
export (JSONL, offline HTML, `lit-gemma findings export`) gives it all."""

from __future__ import annotations

import io
import json
import os

import pytest

from lit_gemma import errors
from lit_gemma.cli import main as cli
from lit_gemma.findings import export
from lit_gemma.findings import store as store_lib

DATA = {"prompt": "Water is made of", "target": " hydrogen and oxygen.",
        "foil": " fire.", "split": "eval", "topic": "chemistry"}
SPAN = store_lib.span("gemma", " hydrogen and oxygen.", [0] * 4 + [0, 0, 1, 0],
                      " oxygen")


class Clock:
  def __init__(self):
    self.now = 1_800_000_000.0

  def __call__(self):
    return self.now


@pytest.fixture(autouse=True)
def list_every_time(monkeypatch):
  monkeypatch.setattr(store_lib, "_LIST_EVERY_S", 0.0)


def _add(store, author="alice@example.com", note="the shot is wrong",
         **kw):
  return store.add(**{"author": author, "verified": True, "note": note,
                      "dataset": "fewshot_mistakes", "data": DATA,
                      "parent": "abc", "explained": SPAN} | kw)


def _files(folder):
  return {name: (folder / name).read_bytes()
          for name in sorted(os.listdir(folder))}


def test_kept_whole_and_read_back_after_a_restart(tmp_path):
  clock = Clock()
  first = _add(store_lib.FindingsStore(str(tmp_path), clock=clock))
  assert first["data"] == DATA and first["span"] == SPAN
  assert first["created"] == "2027-01-15T08:00:00Z"
  (name,) = os.listdir(tmp_path)
  assert name == first["finding"] + ".json"
  assert json.loads((tmp_path / name).read_text()) == first
  restarted = store_lib.FindingsStore(str(tmp_path))
  assert restarted.findings() == [first]


def test_two_instances_share_one_folder_and_rewrite_nothing(tmp_path):
  a = store_lib.FindingsStore(str(tmp_path))
  b = store_lib.FindingsStore(str(tmp_path))
  first = _add(a)
  before = _files(tmp_path)
  second = _add(b, author="bob@example.com", note="a correction")
  assert [f["finding"] for f in a.findings()] == [
      f["finding"] for f in b.findings()] == sorted(
          [first["finding"], second["finding"]])
  after = _files(tmp_path)
  assert {k: after[k] for k in before} == before  # Untouched.
  assert len(after) == 2


def test_each_bound_at_its_edge(tmp_path):
  clock = Clock()
  store = store_lib.FindingsStore(str(tmp_path), max_findings=4,
                                  max_note_chars=20,
                                  per_author_per_minute=2, clock=clock)
  _add(store, note="x" * 20)
  with pytest.raises(store_lib.FindingRefused,
                     match=r"^the note is 21 characters, over the limit of "
                     r"20 \(--max_note_chars\)$") as e:
    _add(store, note="x" * 21)
  assert e.value.http_status == 400
  with pytest.raises(store_lib.FindingRefused, match="needs a note"):
    _add(store, note="   ")
  _add(store)
  with pytest.raises(store_lib.FindingRefused,
                     match=r"^alice@example.com kept 2 findings in the last "
                     r"minute, the most allowed; wait a minute$") as e:
    _add(store)
  assert e.value.http_status == 429
  _add(store, author="bob")
  clock.now += 61
  _add(store)
  with pytest.raises(store_lib.FindingRefused,
                     match=r"^the team's findings are full: 4 kept, the most "
                     r"allowed \(--max_findings\); .*") as e:
    _add(store, author="carol")
  assert e.value.http_status == 403
  with pytest.raises(store_lib.FindingRefused, match="bytes of JSON") as e:
    _add(store_lib.FindingsStore(str(tmp_path / "big")),
         data={"prompt": "x" * store_lib.MAX_FINDING_BYTES})
  assert e.value.http_status == 413
  assert len(store.findings()) == 4


def test_other_files_are_skipped_and_nothing_is_written_on_reading(tmp_path):
  first = _add(store_lib.FindingsStore(str(tmp_path)))
  (tmp_path / "notes.txt").write_text("not a finding")
  (tmp_path / "broken.json").write_text("{")
  (tmp_path / "other.json").write_text(json.dumps({"finding": "x"}))
  (tmp_path / f".{first['finding']}.json.tmp").write_text("{")
  before = _files(tmp_path)
  assert store_lib.read(str(tmp_path)) == [first]
  assert _files(tmp_path) == before
  with pytest.raises(store_lib.FindingRefused, match="only read"):
    _add(store_lib.FindingsStore(str(tmp_path), writable=False))


def test_an_unwritable_folder_is_refused_at_start(tmp_path):
  (tmp_path / "file").write_text("")
  with pytest.raises(errors.ConfigError,
                     match=r"^--findings_dir=.*file/sub: cannot create it"):
    store_lib.FindingsStore(str(tmp_path / "file" / "sub"))
  (tmp_path / "locked").mkdir(mode=0o500)
  if os.geteuid() != 0:  # root writes anywhere
    with pytest.raises(errors.ConfigError, match="cannot write there"):
      store_lib.FindingsStore(str(tmp_path / "locked"))


def test_export_jsonl_html_and_the_command(tmp_path):
  store = store_lib.FindingsStore(str(tmp_path))
  first = _add(store, note="<b>the shot</b> is wrong")
  second = _add(store, author="bob", verified=False, note="second",
                explained=None)
  lines = export.jsonl(store.findings()).splitlines()
  assert [json.loads(l) for l in lines] == [first, second]
  page = export.page(store.findings())
  assert "&lt;b&gt;the shot&lt;/b&gt;" in page and "<b>the shot" not in page
  assert ' hydrogen and<mark style="background:#fde293"> oxygen</mark>.' in page
  assert 'bob <span style="color:#b06000">(unverified)</span>' in page
  assert page.index(second["finding"]) < page.index(first["finding"])
  for outside in ("http://", "https://", "<script", "src="):
    assert outside not in page
  out = io.StringIO()
  assert cli.main(["findings", "export", "--dir", str(tmp_path)],
                  stdout=out) == 0
  assert out.getvalue() == export.jsonl([first, second])
  target = tmp_path.parent / "findings.html"
  err = io.StringIO()
  assert cli.main(["findings", "export", "--dir", str(tmp_path), "--format",
                   "html", "--out", str(target)], stderr=err) == 0
  assert target.read_text() == page
  assert err.getvalue() == f"{target}: 2 findings\n"
  assert cli.main(["findings", "export", "--dir", str(tmp_path / "no")],
                  stderr=err) == 1
  assert err.getvalue().endswith(f"lit-gemma findings: --dir "
                                 f"{tmp_path / 'no'}: no such folder\n")
