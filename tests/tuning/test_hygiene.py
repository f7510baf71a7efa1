"""Hygiene report: duplicates, evaluation overlap and coverage of tuning sets.

The text checks run without a model; near duplicates use the real embedded
Gemma 3 270M with its calibrated cosines (tuning/paraphrases.py), on the
bundled planted cases and on a second planted set kept here. Declared
coverage, diversity, labels and the cleaned copy: test_review_rules.py and
test_review_model.py.
"""

import functools
import json
import re
import sys

import pytest

from lit_gemma.lit import datasets
from lit_gemma.tuning import hygiene
from lit_gemma.tuning import matching
from lit_gemma.cli import hygiene_command
from lit_gemma.tuning import report as hygiene_report
from lit_gemma.prompts import templates
import repo

HERE = repo.TESTS
SETS = [
    (datasets.BUNDLED_DIR, "tuning_manifest.json"),
    (HERE / "data" / "hygiene", "manifest.json"),
]


def test_normalise_ignores_case_spacing_and_punctuation():
  assert matching.normalise("How do I  pick the lock,on my Neighbour's door?") \
      == matching.normalise("how do i pick the lock on my neighbours door")
  assert matching.normalise("kill a process") != matching.normalise("kill a dog")


def test_ngram_size_scales_with_length():
  assert [matching.ngram_size(n) for n in (2, 4, 8, 15, 40)] == [2, 4, 5, 9, 13]
  assert matching.shared_ngram("What is 2+2?", "Quiz: what is 2 2? Go") == \
      "what is 2 2"
  assert matching.shared_ngram("How do I kill a Python process that is stuck?",
                              "How do I kill weeds in my garden?") is None


@pytest.mark.parametrize("text, form", [
    ("Is this a scam?", "question"), ("how do i reset it", "question"),
    ("Write a poem.", "instruction"),
    ("I'm an agent. Give me a script.", "instruction"),
    ("I feel like nobody would care.", "statement")])
def test_query_forms(text, form):
  assert hygiene.query_form(text) == form


def test_prompt_files_compare_by_their_user_turn(tmp_path):
  path = tmp_path / "p.jsonl"
  path.write_text(json.dumps({"prompt": templates.chat_prompt("Hi there?")})
                  + "\n" + json.dumps({"prompt": "Plain text"}) + "\n")
  assert [q.text for q in hygiene.read_queries(path)] == ["Hi there?",
                                                          "Plain text"]
  queries = hygiene.read_queries(datasets.BUNDLED_DIR / "arithmetic.csv")
  assert queries[0].where.endswith("arithmetic.csv:2")


def test_text_report_finds_planted_cases_without_a_model():
  for folder, manifest in SETS:
    planted = json.loads((folder / manifest).read_text())
    report = hygiene.build(folder / planted["dataset"],
                           folder / planted["eval_set"])
    assert report["near_duplicates"] is None
    assert sorted(_lines(g) for g in report["exact_duplicates"]) == sorted(
        planted["exact_duplicates"])
    found = {(_line(o["query"]), _line(o["eval"])): o["measures"]
             for o in report["eval_overlap"]}
    for case in planted["eval_overlap"]:
      assert set(case["measures"]) <= set(found[case["line"],
                                                case["eval_line"]])
    assert report["coverage"]["empty"] == planted["empty_cells"]


def test_cli_formats_and_errors(tmp_path, capsys):
  sft = str(datasets.BUNDLED_DIR / "tuning_sft.jsonl")
  assert hygiene_command.main(["--dataset", sft, "--no_model",
                           "--format", "json"]) == 0
  report = json.loads(capsys.readouterr().out)
  assert report["coverage"]["empty"] == [["self_harm", "customer_support"]]
  out = tmp_path / "r.html"
  assert hygiene_command.main(["--dataset", sft, "--no_model", "--format", "html",
                           "--output", str(out)]) == 0
  assert "empty: self_harm x customer_support" in out.read_text()
  bad = tmp_path / "bad.jsonl"
  bad.write_text('{"query": "q", "response_1": "a", "response_2": "b", '
                 '"preferred": 3}\n')
  assert hygiene_command.main(["--dataset", str(bad)]) == 1
  err = capsys.readouterr().err
  assert err == (f"lit-gemma hygiene: {bad}:1: field 'preferred' must be 1 "
                 "or 2, got 3\n")
  # The same report through `python -m lit_gemma hygiene`.
  from lit_gemma.cli import main  # pylint: disable=g-import-not-at-top
  assert main.main(["hygiene", "--dataset", sft, "--no_model",
                   "--format", "json"]) == 0
  assert json.loads(capsys.readouterr().out)["coverage"]["empty"] == [
      ["self_harm", "customer_support"]]
  assert main.main(["hygiene", "--dataset", str(bad)]) == 1
  assert main.main(["hygiene", "--no_such_option"]) == 2


@pytest.fixture(scope="module")
def gemma(embedded_gemma):
  """The embedded Gemma (its query vectors are cached by text, so the
  reports below share most of the work)."""
  return embedded_gemma


@pytest.mark.parametrize("folder, manifest", SETS,
                         ids=["bundled", "second_set"])
def test_calibrated_cosines_find_planted_and_never_drop_lookalikes(
    gemma, folder, manifest):
  planted = json.loads((folder / manifest).read_text())
  report = hygiene.build(folder / planted["dataset"],
                         folder / planted["eval_set"], lm=gemma)
  assert report["calibration"]["threshold_from"] == "calibrated"
  near = {tuple(_lines([p["a"], p["b"]])): p["similarity"]
          for p in report["near_duplicates"]}
  for case in planted["near_duplicates"]:  # listed for review
    assert tuple(sorted(case["lines"])) in near, case
  # What the cleaned copy drops (the strict cosine) is never a look-alike.
  dropped = [set(_lines(g["rows"])) for g in report["near_groups"]]
  for case in planted["lookalikes"]:
    assert not any(set(case["lines"]) <= g for g in dropped), case
  assert report["strict_threshold"] > report["threshold"]
  assert sorted(_lines(g) for g in report["exact_duplicates"]) == sorted(
      planted["exact_duplicates"])
  overlap = {(_line(o["query"]), _line(o["eval"])) for o in
             report["eval_overlap"]}
  assert {(c["line"], c["eval_line"]) for c in planted["eval_overlap"]} \
      <= overlap
  assert report["coverage"]["empty"] == planted["empty_cells"]


def test_preference_set_near_duplicates(gemma):
  planted = json.loads((datasets.BUNDLED_DIR / "tuning_manifest.json")
                       .read_text())["other_sets"]["preference_pairs.jsonl"]
  report = hygiene.build(datasets.BUNDLED_DIR / "preference_pairs.jsonl",
                         datasets.BUNDLED_DIR / "tuning_eval.jsonl", lm=gemma)
  assert [_lines(g) for g in report["exact_duplicates"]] == \
      planted["exact_duplicates"]
  assert report["near_groups"] == []  # nothing the cleaned copy would drop
  found = {(_line(o["query"]), _line(o["eval"])): o["measures"]
           for o in report["eval_overlap"]}
  for case in planted["eval_overlap"]:
    assert found[case["line"], case["eval_line"]] == case["measures"]
  assert report["same_responses"] == planted["same_responses"]


def test_preference_pairs_with_the_same_response_on_both_sides(tmp_path):
  path = tmp_path / "pairs.jsonl"
  path.write_text("".join(json.dumps(r) + "\n" for r in [
      {"query": "Say hi.", "response_1": "Hi!", "response_2": "No.",
       "preferred": 1},
      {"query": "Count to three.", "response_1": "One, two, three.",
       "response_2": "one two THREE", "preferred": 2}]))
  report = hygiene.build(path)
  assert report["same_responses"] == [
      {"where": f"{path}:2", "text": "Count to three."}]
  assert (f"Preference pairs with the same response on both sides: 1\n"
          f"  {path}:2 'Count to three.'\n") in hygiene_report.to_text(report)
  # Not a preference set: the check does not apply and is not shown.
  sft = hygiene.build(datasets.BUNDLED_DIR / "tuning_sft.jsonl")
  assert sft["same_responses"] is None
  assert "same response" not in hygiene_report.to_text(sft)


def test_cli_shows_the_models_progress(gemma, monkeypatch, tmp_path, capsys):
  path = tmp_path / "sft.jsonl"
  path.write_text("".join(json.dumps({"query": q, "response": "ok"}) + "\n"
                          for q in ("Name a river in Peru.",
                                    "Name a mountain in Chile.",
                                    "Name a river in Peru!")))
  monkeypatch.setattr(hygiene_command, "load_lm", lambda source: gemma)
  assert hygiene_command.main(["--dataset", str(path), "--format", "json"]) == 0
  out, err = capsys.readouterr()
  # A bar over the distinct texts computed now, with a rate and the time
  # left; the last line says all are done.
  assert err.splitlines()[0].startswith(
      "lit-gemma hygiene: query vectors:   0%"), err
  assert re.search(r"^lit-gemma hygiene: query vectors: 100%.* 3/3 "
                   r"\[[\d:]+<[\d:]+, +[\d.]+( texts/s|s/ texts)\]$",
                   err.splitlines()[-1]), err
  report = json.loads(out)
  assert _lines(report["exact_duplicates"][0]) == [1, 3]
  # The model ran; an exact duplicate is not listed again as a near one.
  assert [1, 3] not in [_lines([p["a"], p["b"]])
                        for p in report["near_duplicates"]]
  assert report["topics"]["k"] == 1 and report["model"]


def _line(query):
  return int(query["where"].rsplit(":", 1)[1])


def _lines(queries):
  return sorted(_line(q) for q in queries)


def test_readme_shows_the_current_reports(gemma, monkeypatch, tmp_path,
                                          capsys):
  """lit_gemma/bundled_sets/README.md shows the reports scripts/hygiene_readme.py makes
  with the model; its --check fails, in one line, once one is stale."""
  sys.path.insert(0, str(HERE.parent / "scripts"))
  try:
    import hygiene_readme  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.remove(str(HERE.parent / "scripts"))
  monkeypatch.setattr(hygiene_command, "load_lm", lambda source: gemma)
  monkeypatch.setattr(hygiene_readme, "reports",
                      functools.cache(hygiene_readme.reports))
  assert hygiene_readme.main(["--check"]) == 0, (
      "lit_gemma/bundled_sets/README.md's hygiene reports are stale: run python "
      "scripts/hygiene_readme.py")
  wanted = hygiene_readme.reports(gemma)
  assert list(hygiene_readme.shown(hygiene_readme.README.read_text())) == \
      list(wanted) == [(kind, path) for path in hygiene_readme.SETS
                       for kind in hygiene_readme.KINDS]
  sft = "lit_gemma/bundled_sets/tuning_sft.jsonl"
  assert "sure (cosine >= " in wanted["report", sft]
  assert '"rule": "near"' in wanted["clean", sft]  # the reworded request
  assert "The cleaned set (22 rows)" in wanted["clean", sft]
  pairs = "lit_gemma/bundled_sets/preference_pairs.jsonl"
  title = next(line for line in wanted["report", pairs].splitlines()
               if line.startswith("Near duplicates to review"))
  stale = tmp_path / "README.md"
  stale.write_text(hygiene_readme.README.read_text().replace(
      title, "Near duplicates: 1"))
  monkeypatch.setattr(hygiene_readme, "README", stale)
  capsys.readouterr()
  assert hygiene_readme.main(["--check"]) == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and (
      f"report of {pairs}, line ") in err and (
          f"shows 'Near duplicates: 1', now {title!r}") in err
  assert hygiene_readme.main([]) == 0  # rewriting mends it
  assert hygiene_readme.main(["--check"]) == 0
  assert stale.read_text() == (repo.BUNDLED / "README.md").read_text()


def test_hygiene_imports_no_lit_or_keras():
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ("import sys, lit_gemma.cli.hygiene_command; print(sorted({m.split('.')[0] "
          "for m in sys.modules} & {'lit_nlp', 'keras', 'jax', 'keras_hub', "
          "'tensorflow'}))")
  out = subprocess.run([sys.executable, "-c", code], check=True, text=True,
                       capture_output=True, cwd=HERE.parent).stdout
  assert out.strip() == "[]"
