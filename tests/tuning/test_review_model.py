"""The review with the embedded Gemma 3 270M, on the set built to contain
each problem (tests/data/hygiene/problems/sft.jsonl), its clean twin, and
the planted preference swaps: what the model's thresholds find, calibrated
on one planted set (lit_gemma/tuning/planted/*_calibration.jsonl) and
measured on another (*_check.jsonl).

The model's paraphrase signal is weak on hard negatives (queries of the
same frame and topic): its check-set precision is printed in every report
and asserted here to be what the report says, so a reader knows what a
"near" flag is worth. The word checks are in test_review_rules.py."""

import json

import pytest

from lit_gemma.tuning import hygiene
from lit_gemma.tuning import paraphrases
from lit_gemma.tuning import preferences
from lit_gemma.tuning import responses
from lit_gemma.tuning import vectors
import repo

pytestmark = pytest.mark.real_model
PROBLEMS = repo.TESTS / "data" / "hygiene" / "problems"
PLANTED = json.loads((PROBLEMS / "manifest.json").read_text())
PREFERENCES = repo.ROOT / "lit_gemma" / "tuning" / "planted"


@pytest.fixture(scope="module")
def gemma(embedded_lm):
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top
  return lm_lib.GemmaLM(embedded_lm)


@pytest.fixture(scope="module")
def reports(gemma):
  return {name: hygiene.build(PROBLEMS / name, lm=gemma,
                              review=PROBLEMS / "review.yaml")
          for name in (PLANTED["dataset"], PLANTED["clean_twin"])}


def _line(query) -> int:
  return int(query["where"].rsplit(":", 1)[1])


def test_thresholds_are_calibrated_on_one_set_and_measured_on_another(gemma):
  cal = paraphrases.threshold(gemma)
  assert cal.calibration_set != cal.check_set
  # The figures are recomputed from the check set at the chosen threshold.
  pos, neg = paraphrases.scores(gemma, paraphrases.CHECK_SET)
  assert cal.check.found == sum(s >= cal.threshold for s in pos)
  assert cal.check.flagged - cal.check.found == sum(
      s >= cal.threshold for v in neg.values() for s in v)
  assert cal.check.recall >= 0.75  # most rewordings are caught ...
  assert cal.calibration.planted == 24 and cal.check.planted == 16
  depth = vectors.depth_for(gemma)
  assert depth == 13 < gemma.engine.forward.layer_count == 18


def test_planted_near_duplicate_group_and_paraphrased_eval_items(reports):
  report = reports[PLANTED["dataset"]]
  groups = [sorted(_line(q) for q in g["rows"]) for g in report["near_groups"]]
  for planted in PLANTED["near_duplicate_groups"]:
    assert any(set(planted) <= set(g) for g in groups), groups
  near = {(_line(o["query"]), _line(o["eval"])): o for o in
          report["eval_overlap"]}
  for case in PLANTED["eval_paraphrases"]:
    match = near[case["line"], case["eval_line"]]
    # No long shared n-gram: only the model's vectors see these.
    assert match["measures"] == ["near"], match
    assert match["similarity"] >= report["threshold"]
  text = "\n".join(str(o) for o in report["eval_overlap"])
  assert "What makes combining ammonia with bleach hazardous?" in text


def test_narrow_topic_found_and_not_on_the_twin(reports):
  report = reports[PLANTED["dataset"]]
  narrow = [t for t in report["topics"]["topics"] if t["narrow"]]
  assert len(narrow) == 1, report["topics"]["topics"]
  lines = {_line(q) for q in narrow[0]["rows"]}
  # The narrow topic is made of the planted rows.
  assert len(lines & set(PLANTED["narrow_topic"]["lines"])) >= 0.8 * len(
      lines)
  assert any(n["what"] == "topic" for n in report["diversity"]["narrow"])
  assert reports[PLANTED["clean_twin"]]["diversity"]["narrow"] == []


def test_the_clean_twin_has_none_of_the_planted_problems(reports):
  clean = reports[PLANTED["clean_twin"]]
  cov = clean["coverage"]
  assert (cov["empty"], cov["thin"], cov["off_balance"]) == ([], [], [])
  assert clean["identity"]["imbalanced"] == []
  assert clean["labels"]["sft"]["suspects"] == []
  assert clean["exact_duplicates"] == []
  texts = {q["text"] for g in clean["near_groups"] for q in g["rows"]}
  problems = [json.loads(line) for line in
              (PROBLEMS / PLANTED["dataset"]).read_text().splitlines()]
  planted_group = {problems[i - 1]["query"]
                   for g in PLANTED["near_duplicate_groups"] for i in g}
  assert len(texts & planted_group) <= 1  # one of the group is kept
  planted_eval = {problems[c["line"] - 1]["query"]
                  for c in PLANTED["eval_paraphrases"]}
  assert not planted_eval & {o["query"]["text"]
                             for o in clean["eval_overlap"]}
  # What the model still flags on the twin are same-topic pairs, the
  # false alarms the check set predicts (precision under 1): each is shown
  # with its pair and cosine for a reviewer to judge.
  for pair in clean["near_duplicates"]:
    assert pair["similarity"] >= clean["threshold"]
    assert pair["a"]["text"] != pair["b"]["text"]


def test_sft_likelihood_signal_is_measured_and_flags_only_if_precise(
    reports, gemma):
  sft = reports[PLANTED["dataset"]]["labels"]["sft"]
  cal = responses.compliance_threshold(gemma)
  assert sft["calibration"] == cal.to_dict()
  assert sft["likelihood_flags"] == (cal.check.precision >=
                                     responses.MIN_PRECISION)
  assert sorted(_line(s) for s in sft["suspects"]) == sorted(
      c["line"] for c in PLANTED["label_contradictions"])


def _flipped(path, lines, out):
  rows = [json.loads(l) for l in path.read_text().splitlines()]
  for line in lines:
    rows[line - 1]["preferred"] = 3 - rows[line - 1]["preferred"]
  out.write_text("".join(json.dumps(r) + "\n" for r in rows))
  return out


def test_swapped_preference_pairs_with_the_calibrated_margin(gemma,
                                                             tmp_path):
  """5 swapped pairs among 40 (planted/preference_check.jsonl, kept apart
  from the calibration set): the report finds what its figures say."""
  manifest = json.loads((PREFERENCES / "manifest.json").read_text())
  swapped = manifest["preference_check.jsonl"]["swapped"]
  report = hygiene.build(PREFERENCES / "preference_check.jsonl", lm=gemma)
  pref = report["labels"]["preference"]
  cal = preferences.margin_threshold(gemma)
  flagged = {_line(s) for s in pref["suspects"]}
  assert len(flagged & set(swapped)) == cal.check.found
  assert len(flagged) == cal.check.flagged
  assert cal.check.found >= 4 and cal.check.by_signal["rule"] == 2
  by_rule = {_line(s) for s in pref["suspects"] if "rule" in s["signals"]}
  assert by_rule <= set(swapped)  # the rule raises no false alarm
  # The clean twin: every swap undone. The rule finds nothing; the margin
  # keeps only its false alarms (pairs whose right answer the model finds
  # less likely), the same pairs as on the planted set.
  twin = _flipped(PREFERENCES / "preference_check.jsonl", swapped,
                  tmp_path / "twin.jsonl")
  clean = hygiene.build(twin, lm=gemma)["labels"]["preference"]
  assert not any("rule" in s["signals"] for s in clean["suspects"])
  assert {_line(s) for s in clean["suspects"]} == flagged - set(swapped)
