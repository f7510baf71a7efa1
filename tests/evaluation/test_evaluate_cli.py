"""`lit-gemma evaluate` and `lit-gemma regressions` on tiny random Gemmas:
figures per template id and route on the evaluation rows only, a file
whose few-shot examples leak into its evaluation rows refused with file
and line, and a checkpoint made worse on one probe on purpose found first
among the rows that got worse."""

import json
import re

import pytest

import alignment_data
from lit_gemma.cli import main
from lit_gemma.cli import regressions_command
from lit_gemma.evaluation import regressions
from lit_gemma.evaluation import regressions_report
from lit_gemma.models import lm as lm_lib

EXTERNAL = re.compile(r"https?://|//[a-z]|src=|url\(|@import", re.I)


run = alignment_data.run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  root = tmp_path_factory.mktemp("evaluate")
  (root / "t.yaml").write_text(alignment_data.TEMPLATES)
  (root / "leaky.yaml").write_text(alignment_data.LEAKY.lstrip("\n"))
  probes = alignment_data.write_jsonl(root / "probes.jsonl",
                                      alignment_data.PROBES)
  return {"templates": root / "t.yaml", "leaky": root / "leaky.yaml",
          "probes": probes}


@pytest.fixture(scope="module")
def tiny(tiny_preset):
  return lm_lib.GemmaLM.load(str(tiny_preset))


def test_evaluate_reports_per_template_and_route_on_eval_rows(
    files, tiny, temp_cache):
  status, out, err = run(["evaluate", "--dataset", str(files["templates"]),
                          "--max-new-tokens", "4", "--format", "json"],
                         lm=tiny)
  assert status == 0, err
  report = json.loads(out)
  # 3 eval rows under each of two templates, 2 routed ones; no dev row.
  assert report["eval_rows"] == 8
  assert {r["split"] for r in report["rows"]} == {"eval"}
  assert list(report["templates"]) == ["plain", "fewshot", "dynamic"]
  plain = report["templates"]["plain"]
  assert plain["rows"] == 3
  # " 38" is a short answer; the others are judged by ROUGE-L.
  assert plain["exact_match"] is not None and plain["rouge_l"] is not None
  assert plain["refusal_rate"] is not None  # one adversarial row
  assert plain["preference_margin"] is None  # no foil here
  assert set(report["routes"]) == {"dynamic / science", "dynamic / other"}
  rows = [r for r in report["rows"] if r["template_id"] == "plain"]
  assert plain["target_loglik"] == pytest.approx(
      sum(r["target_loglik"] for r in rows) / 3)
  # The text table lists the same templates and routes.
  status, text, _ = run(["evaluate", "--dataset", str(files["templates"]),
                         "--max-new-tokens", "4"], lm=tiny)
  assert status == 0 and "dynamic / science" in text
  assert re.search(r"^plain\s+3\s", text, re.M), text


def test_evaluate_refuses_leaked_examples_with_file_and_line(files):
  status, out, err = run(["evaluate", "--dataset", str(files["leaky"]),
                          "--model", "/no/such/model"])
  leaky = files["leaky"]
  assert status == 1 and not out and err.count("\n") == 1, err
  assert err.startswith(f"lit-gemma evaluate: {leaky} (few-shot examples, "
                        "dev rows) contains evaluation items: ")
  assert (f"{leaky}:6 (template 'fewshot', examples[1]) 'Water is made of' "
          f"matches the evaluation item at {leaky}:9 (template 'fewshot', "
          "rows[1])") in err


def test_regressions_rank_the_planted_regression_first(
    files, planted_checkpoints, temp_cache):
  before, after = planted_checkpoints
  argv = ["regressions", "--before", str(before), "--after", str(after),
          "--dataset", str(files["probes"]), "--max-new-tokens", "4",
          "--maps", "1"]
  # The command's report, built once and written in each format.
  built = regressions_command.report(main.build_parser().parse_args(argv))
  report = json.loads(regressions_report.to_json(built))
  planted = alignment_data.PROBES[alignment_data.PLANTED]
  assert report["rows"] == 4 and report["rows_used"] == "every row"
  worst = report["worse"][0]
  assert worst["target"] == planted["target"]
  assert worst["measure"] == "target_mean_loglik"  # this probe has no foil
  assert worst["drop"] > 0.2
  assert report["maps"][0]["where"] == worst["where"]
  assert report["maps"][0]["before"] and report["maps"][0]["after"]
  assert set(report["summary"]) == {"before", "after", "change"}
  change = report["summary"]["change"]["target_loglik"]
  assert change == pytest.approx(report["summary"]["after"]["target_loglik"]
                                 - report["summary"]["before"][
                                     "target_loglik"])
  # Rows with a foil are ranked by the preference margin.
  by_where = {c["where"]: c for c in report["changes"]}
  for i, probe in enumerate(alignment_data.PROBES):
    row = by_where[f"{files['probes']} row {i}"]
    assert row["measure"] == (regressions.MARGIN if "foil" in probe
                              else regressions.LOGLIK)
  text = regressions_report.text(built)
  assert text.splitlines()[0].startswith("Regressions: ")
  assert f"1. {worst['where']}" in text
  # HTML: the worst row's two salience maps side by side, offline.
  page = regressions_report.to_html(built)
  assert page.count("<table style=\"width:100%\">") == 1
  assert not EXTERNAL.search(page)
  # A bad argument: one line, before any model loads.
  status, out, err = run(argv + ["--top", "-1"])
  assert status == 1 and not out and err == (
      "lit-gemma regressions: --top and --maps must be >= 0\n")
