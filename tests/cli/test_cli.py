"""The command line as a user meets it, on a tiny random Gemma: every
subcommand, its formats and exit codes, scores equal to a live server's,
and a `batch` run killed half-way and resumed.

Most runs are in-process (`cli.main([...], lm=...)`: one model, compiled
once); a subprocess only where the process itself matters (the kill, one
exit code).
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from http_helpers import new_input
from http_helpers import ok
from lit_gemma.cli import main
from lit_gemma import explain
import repo

ROOT = repo.ROOT
PROMPT = "The capital of France is"
TARGET = " Paris."
EXTERNAL = re.compile(r"https?://|//[a-z]|src=|url\(|@import", re.I)
TEMPLATES = """
- id: v1
  template: "Answer.\\n{{examples}}\\nQ: {{q}}\\nA:"
  example_template: "Q: {{q}}\\nA: {{a}}"
  examples: [{q: "Water is made of", a: "hydrogen"}, {q: "Bees dance", a: "to show"}]
  rows: &rows
    - {q: "The capital of France is", target: " Paris."}
- id: v2
  chat: true
  template: "Q: {{q}}\\nA:"
  rows: *rows
"""


class _Tty(io.StringIO):
  def isatty(self):
    return True


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> pathlib.Path:
  import tiny_models  # pylint: disable=g-import-not-at-top

  return tiny_models.save_preset("gemma", tmp_path_factory.mktemp("m") / "g")


@pytest.fixture(scope="module")
def lm(preset):
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  return lm_lib.GemmaLM.load(str(preset), max_batch=4)


def run(lm, *argv, stdout=None) -> tuple[int, str, str]:
  out, err = stdout or io.StringIO(), io.StringIO()
  code = main.main(list(argv), lm=lm, stdout=out, stderr=err)
  return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------- explain


def test_explain_json_round_trips_and_equals_explain(lm):
  code, out, err = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                       "--span-text", "Paris", "--format", "json")
  assert code == 0, err
  exp = explain.Explanation.from_json(out)
  assert exp.to_json() + "\n" == out  # exact round trip
  direct = explain.explain(lm, PROMPT, TARGET, span="Paris")
  assert exp.tokens == direct.tokens
  assert exp.target_mask.tolist() == direct.target_mask.tolist()
  code, out, _ = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                     "--span", "0:2", "--format", "json")
  mask = explain.Explanation.from_json(out).target_mask
  assert code == 0 and mask.tolist() == explain.explain(
      lm, PROMPT, TARGET, span=(0, 2)).target_mask.tolist()
  for method, scores in direct.scores.items():  # kept forward pass: ~1 ulp
    np.testing.assert_allclose(exp.scores[method], scores, rtol=1e-6,
                               atol=1e-7)


def test_explain_text_is_plain_in_a_pipe_and_coloured_in_a_terminal(lm):
  code, plain, _ = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                       "--methods", "grad_l2")
  assert code == 0 and "\x1b[" not in plain
  assert f"{PROMPT}[[{TARGET}]]" in plain and "top 5" in plain
  code, coloured, _ = run(lm, "explain", "--prompt", PROMPT, "--target",
                          TARGET, "--methods", "grad_l2", stdout=_Tty())
  assert code == 0 and "\x1b[30;48;2;" in coloured


def test_explain_html_is_one_offline_file(lm, tmp_path):
  out = tmp_path / "report.html"
  code, stdout, err = run(lm, "explain", "--prompt", PROMPT, "--target",
                          TARGET, "--format", "html", "--check", "--out",
                          str(out))
  assert code == 0 and not stdout, err
  page = out.read_text()
  assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
  assert "lit-gemma-segment" in page and "Faithfulness" in page
  assert not EXTERNAL.search(page)


def test_check_reports_deletions_and_says_when_no_better_than_random(lm):
  code, out, _ = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                     "--check", "--format", "json", "--draws", "8")
  assert code == 0
  checks = explain.Explanation.from_json(out).faithfulness
  assert [c.method for c in checks] == ["grad_l2", "grad_dot_input"]
  for c in checks:  # 8 draws, less any that is the map's own top k
    assert 0 < len(c.random_drops) <= 8 and c.k == 2
    assert len(c.segments) == 5 and len(c.removal_drops) == 2
    assert c.better_than_random == (
        c.top_k_drop > np.percentile(c.random_drops, 90))
    verdict = "better than random" if c.better_than_random else (
        "NO BETTER THAN RANDOM")
    assert verdict in c.summary() and "sufficiency" in c.summary()


def test_explain_with_a_foil_is_contrastive_and_methods_lists_costs(lm):
  methods = ["grad_dot_input", "loo_word"]
  code, out, err = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                       "--foil", " Rome.", "--methods", *methods,
                       "--format", "json")
  assert code == 0, err
  exp = explain.Explanation.from_json(out)
  direct = explain.explain(lm, PROMPT, TARGET, foil=" Rome.",
                           methods=methods)
  assert exp.foil == " Rome." and exp.methods == tuple(methods)
  for method in methods:
    np.testing.assert_allclose(exp.scores[method], direct.scores[method],
                               rtol=1e-6, atol=1e-7)
  code, text, _ = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                      "--foil", " Rome.", "--methods", "loo_word")
  assert code == 0 and "rather than ' Rome.'" in text
  code, listing, _ = run(None, "methods")
  from lit_gemma.explain import registry  # pylint: disable=g-import-not-at-top
  assert code == 0
  for name, method in registry.METHODS.items():
    assert f"{name}" in listing and method.cost in listing
  code, _, err = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                     "--methods", "smooth_grad")
  assert code == 1 and err.count("\n") == 1 and "loo_word" in err


# ------------------------------------------------------ a live server


@pytest.fixture(scope="module")
def live(preset, lm, tmp_path_factory):
  import served  # pylint: disable=g-import-not-at-top
  from lit_gemma.serve import build  # pylint: disable=g-import-not-at-top
  from lit_gemma.serve import config as config_lib  # pylint: disable=g-import-not-at-top

  data = tmp_path_factory.mktemp("data") / "p.jsonl"
  data.write_text(json.dumps({"prompt": PROMPT, "target": TARGET}) + "\n")
  config = config_lib.ServerConfig(models=(("tiny", str(preset)),),
                                   datasets=(("p", str(data)),),
                                   max_length=128, max_new_tokens=8,
                                   warm_up=False)
  served_app = served.Served(build.build_app(
      config, lms={"tiny": lm}))
  yield served_app
  served_app.close()


def test_cli_scores_equal_the_servers_get_preds(lm, live):
  code, out, err = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                       "--span-text", "Paris", "--format", "json")
  assert code == 0, err
  local = explain.Explanation.from_json(out)
  answer = ok(live.url, "/get_preds", {"inputs": [new_input({
      "prompt": PROMPT, "target": TARGET,
      "target_mask": local.target_mask.tolist()})]},
              model="_tiny_salience", dataset_name="p")[0]
  assert answer["tokens"] == local.tokens
  for method in local.methods:
    np.testing.assert_allclose(local.scores[method], answer[method],
                               rtol=1e-6, atol=1e-7)
  # The same through the CLI's --server client.
  code, out, err = run(None, "explain", "--prompt", PROMPT, "--target",
                       TARGET, "--span-text", "Paris", "--format", "json",
                       "--server", live.url)
  assert code == 0, err
  remote = explain.Explanation.from_json(out)
  assert remote.tokens == local.tokens
  assert remote.prompt_tokens == local.prompt_tokens
  for method in local.methods:
    np.testing.assert_allclose(remote.scores[method], answer[method],
                               rtol=1e-6, atol=1e-7)
  code, _, err = run(None, "explain", "--prompt", PROMPT, "--target", TARGET,
                     "--server", live.url, "--check")
  assert code == 1 and err.count("\n") == 1 and "--server" in err


# ---------------------------------------------------- compare, errors


def test_compare_table_and_html(lm, tmp_path):
  path = tmp_path / "t.yaml"
  path.write_text(TEMPLATES)
  code, out, err = run(lm, "compare", "--dataset", str(path))
  assert code == 0, err
  header = next(l for l in out.splitlines() if l.startswith("part"))
  assert header.split() == ["part", "v1", "v2", "change"]
  rows = {l.split()[0]: l for l in out.splitlines()
          if l.startswith(("template", "example", "{{q}}"))}
  assert set(rows) == {"template", "example", "{{q}}"}
  assert "lost" in rows["example"]  # v2 has no examples: all of it lost
  shares = [float(v.rstrip("%")) for v in rows["{{q}}"].split()[1:3]]
  assert 0 < shares[0] < 100 and 0 < shares[1] < 100
  code, _, _ = run(lm, "compare", "--dataset", str(path), "--format", "html",
                   "--out", str(tmp_path / "c.html"))
  page = (tmp_path / "c.html").read_text()
  assert code == 0 and "<table" in page and not EXTERNAL.search(page)
  assert 'data-part="prompt"' in page
  code, out, _ = run(lm, "compare", "--dataset", str(path), "--format", "json")
  (group,) = json.loads(out)
  assert code == 0 and group["template_ids"] == ["v1", "v2"]
  assert group["variables"] == {"{{q}}": "The capital of France is"}
  for shares in group["shares"].values():
    assert sum(shares.values()) == pytest.approx(1.0)


def test_bad_files_exit_1_with_one_line_naming_file_and_line(lm, tmp_path):
  bad = tmp_path / "bad.jsonl"
  bad.write_text('{"prompt": "fine"}\n{"prompt": oops}\n')
  for command in (["batch", "--dataset", str(bad), "--out",
                   str(tmp_path / "r.jsonl")],
                  ["compare", "--dataset", str(bad)]):
    code, out, err = run(lm, *command)
    assert code == 1 and not out
    assert err.count("\n") == 1 and f"{bad}:2:" in err, err
  results = tmp_path / "results.jsonl"
  results.write_text("not json\n")
  good = tmp_path / "good.jsonl"
  good.write_text('{"prompt": "a", "target": " b"}\n')
  code, _, err = run(lm, "batch", "--dataset", str(good), "--out",
                     str(results))
  assert code == 1 and f"{results}:1:" in err and err.count("\n") == 1
  code, _, err = run(lm, "explain", "--prompt", PROMPT, "--target", TARGET,
                     "--granularity", "part")
  assert code == 1 and "template" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    [], ["nope"], ["explain"], ["explain", "--prompt", "x", "--span", "1"],
    ["explain", "--prompt", "x", "--span", "0:1", "--span-text", "x"],
    ["explain", "--prompt", "x", "--granularity", "chapter"],
    ["batch", "--dataset", "d.jsonl"],
    ["explain", "--prompt", "x", "--model", "a", "--server", "http://b"],
])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
  assert main.main(argv) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "error:" in err, err


def test_help_and_exit_2_from_the_installed_entry_point():
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  done = subprocess.run([sys.executable, "-m", "lit_gemma", "batch"],
                        capture_output=True, text=True, env=env, cwd=ROOT,
                        timeout=120)
  assert done.returncode == 2 and done.stderr.count("\n") == 1
  assert "--dataset" in done.stderr
  for command in ("explain", "batch", "compare"):
    code = main.main([command, "--help"])
    assert code == 0


def test_serve_is_launch_py(capsys):
  assert main.main(["serve", "--no_such_flag"]) == 2
  assert capsys.readouterr().err.count("\n") == 1


# --------------------------------------------------------------- batch


def _rows(n: int) -> list[dict]:
  words = ["France", "Italy", "Spain", "Water", "Bees", "Steps", "Paris"]
  return [{"prompt": f"The capital of {words[i % 7]} is {i}",
           "target": f" {words[(i + 3) % 7]}."} for i in range(n)]


def _read(path: pathlib.Path) -> list[dict]:
  return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_generates_missing_targets_and_keeps_parts(lm, tmp_path):
  path = tmp_path / "t.yaml"
  path.write_text(TEMPLATES.replace(', target: " Paris."', ""))
  out = tmp_path / "r.jsonl"
  err = io.StringIO()
  code = main.main(["batch", "--dataset", str(path), "--out", str(out)],
                  lm=lm, stdout=io.StringIO(), stderr=err)
  assert code == 0
  # The count, the rate and the time left, ending with all done.
  last = err.getvalue().splitlines()[-1]
  assert re.search(r"^batch: 100%.* 2/2 \[[\d:]+<[\d:]+, +[\d.]+(ex/s|s/ex)\]$",
                   last), err.getvalue()
  records = _read(out)
  assert [r["target_from"] for r in records] == ["generated"] * 2
  assert [r["template_id"] for r in records] == ["v1", "v2"]
  for r in records:
    exp = explain.Explanation.from_dict(r)
    assert exp.target == lm.generate([exp.prompt], 64)[0]
    labels = [s.label for s in exp.segments("part", "grad_l2")]
    assert "{{q}}" in labels and labels[-1] == "target"


def test_batch_killed_half_way_resumes_to_the_same_results(lm, preset,
                                                           tmp_path):
  data = tmp_path / "d.jsonl"
  rows = _rows(150)
  data.write_text("".join(json.dumps(r) + "\n" for r in rows))
  killed = tmp_path / "killed.jsonl"
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  process = subprocess.Popen(
      [sys.executable, "-m", "lit_gemma", "batch", "--dataset", str(data),
       "--out", str(killed), "--model", str(preset), "--batch-size", "2"],
      env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
      if killed.exists() and killed.read_bytes().count(b"\n") >= 10:
        break
      time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
  finally:
    process.wait()
  written = killed.read_bytes().count(b"\n")
  assert 10 <= written < len(rows), written
  with open(killed, "ab") as f:  # as if killed in the middle of a write
    f.write(b'{"id": "half", "index": 99, "sco')
  code, out, _ = run(lm, "batch", "--dataset", str(data), "--out",
                     str(killed))
  assert code == 0 and f"{written} already there" in out
  whole = tmp_path / "whole.jsonl"
  assert run(lm, "batch", "--dataset", str(data), "--out", str(whole))[0] == 0
  resumed, reference = _read(killed), _read(whole)
  assert len(resumed) == len(rows) == len({r["id"] for r in resumed})
  assert killed.read_bytes().endswith(b"\n")
  by_id = {r["id"]: r for r in reference}
  for r in resumed:
    ref = by_id[r["id"]]
    assert r["tokens"] == ref["tokens"] and r["index"] == ref["index"]
    for method, scores in ref["scores"].items():
      a, b = np.asarray(r["scores"][method]), np.asarray(scores)
      assert np.linalg.norm(a - b) <= 1e-6 * np.linalg.norm(b)


# ------------------------------------------------ batch --shard and merge


@pytest.fixture(scope="module")
def sharded(lm, tmp_path_factory):
  """Five examples: one unsharded run, and shard 0/2 (the flag, which wins
  over the task variables) and shard 1/2 (Cloud Run's task variables)."""
  tmp = tmp_path_factory.mktemp("shards")
  data = tmp / "d.jsonl"
  data.write_text("".join(json.dumps(r) + "\n" for r in _rows(5)))
  whole = tmp / "whole.jsonl"
  assert run(lm, "batch", "--dataset", str(data), "--out", str(whole))[0] == 0
  out = tmp / "r.jsonl"
  saved = dict(os.environ)
  os.environ.update(CLOUD_RUN_TASK_INDEX="1", CLOUD_RUN_TASK_COUNT="2")
  try:
    first = run(lm, "batch", "--dataset", str(data), "--out", str(out),
                "--shard", "0/2")
    second = run(lm, "batch", "--dataset", str(data), "--out", str(out))
  finally:
    os.environ.clear()
    os.environ.update(saved)
  assert first[0] == second[0] == 0, (first, second)
  assert first[1].startswith(f"{tmp}/r.shard-0-of-2.jsonl: 3 written")
  assert second[1].startswith(f"{tmp}/r.shard-1-of-2.jsonl: 2 written")
  return data, out, whole


def test_two_shards_merged_equal_one_unsharded_run(lm, sharded):
  data, out, whole = sharded
  shard0, shard1 = (out.parent / f"r.shard-{i}-of-2.jsonl" for i in (0, 1))
  assert [r["index"] for r in _read(shard0)] == [0, 2, 4]
  assert [r["index"] for r in _read(shard1)] == [1, 3]
  code, stdout, err = run(lm, "merge", "--dataset", str(data), "--out",
                          str(out))
  assert code == 0, err
  assert stdout == f"{out}: 5 examples from 2 shard files\n"
  merged, reference = _read(out), _read(whole)
  assert [r["index"] for r in merged] == [0, 1, 2, 3, 4]
  for r, ref in zip(merged, reference):
    assert set(r) == set(ref) and r["id"] == ref["id"]
    assert r["tokens"] == ref["tokens"] and r["target"] == ref["target"]
    # A shard batches an example with other neighbours (other padding):
    # float32 sums in another order.
    for method, scores in ref["scores"].items():
      a, b = np.asarray(r["scores"][method]), np.asarray(scores)
      assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(b)


def test_merge_reports_missing_and_duplicated_examples(lm, sharded,
                                                       tmp_path):
  data, out, _ = sharded
  lines0 = (out.parent / "r.shard-0-of-2.jsonl").read_text().splitlines()
  lines1 = (out.parent / "r.shard-1-of-2.jsonl").read_text().splitlines()
  a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
  a.write_text("\n".join([lines0[0], lines0[2], lines1[0]]) + "\n")  # no 2
  b.write_text("\n".join(lines1) + "\n")  # 1 again
  ids = {json.loads(line)["index"]: json.loads(line)["id"]
         for line in lines0 + lines1}
  merged = tmp_path / "m.jsonl"
  code, _, err = run(lm, "merge", "--dataset", str(data), "--out",
                     str(merged), str(a), str(b))
  assert code == 1 and not merged.exists()
  assert err.splitlines() == [
      f"lit-gemma merge: 1 example(s) in no shard file: example 2 (id "
      f"{ids[2]}); rerun their shard (it resumes)",
      f"lit-gemma merge: 1 example(s) in more than one place: example 1 "
      f"(id {ids[1]}) at {a}:3, {b}:1",
      f"lit-gemma merge: {merged} not written"]
  b.write_text('{"id": "nope", "index": 9}\n')
  code, _, err = run(lm, "merge", "--dataset", str(data), "--out",
                     str(merged), str(a), str(b))
  assert code == 1 and err.startswith(f"lit-gemma merge: {b}:1: id 'nope' "
                                      "is no example of the dataset")


@pytest.mark.parametrize("shard,env,message", [
    ("2/2", {}, "--shard='2/2': the index must be 0 to count - 1"),
    ("1-2", {}, "--shard='1-2': expected I/N"),
    (None, {"CLOUD_RUN_TASK_INDEX": "x", "CLOUD_RUN_TASK_COUNT": "2"},
     "CLOUD_RUN_TASK_INDEX/CLOUD_RUN_TASK_COUNT (from the environment)="
     "'x/2': expected I/N"),
])
def test_bad_shard_is_one_line_before_the_model_loads(shard, env, message,
                                                      tmp_path, monkeypatch):
  for name, value in env.items():
    monkeypatch.setenv(name, value)
  argv = ["batch", "--dataset", str(repo.BUNDLED / "arithmetic.csv"),
          "--out", str(tmp_path / "r.jsonl"), "--model", "/nonexistent"]
  code, _, err = run(None, *argv, *(["--shard", shard] if shard else []))
  assert code == 1 and err.startswith(f"lit-gemma batch: {message}"), err
  assert len(err.splitlines()) == 1 and not os.listdir(tmp_path)
