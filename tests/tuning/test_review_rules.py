"""The review's word rules and files, without a model: the review file
(declared coverage), identity terms, tone and form, what a response does,
the label rules, the cleaned copy. The planted problem set and its clean
twin (tests/data/hygiene/problems/) are read here for what needs no model;
test_review_model.py checks the rest with the embedded Gemma."""

import json

import pytest

from lit_gemma.cli import hygiene_command
from lit_gemma.tuning import cleaning
from lit_gemma.tuning import diversity
from lit_gemma.tuning import hygiene
from lit_gemma.tuning import identity
from lit_gemma.tuning import queries
from lit_gemma.tuning import refusals
from lit_gemma.tuning import report as report_lib
from lit_gemma.tuning import review
import repo

PROBLEMS = repo.TESTS / "data" / "hygiene" / "problems"
PLANTED = json.loads((PROBLEMS / "manifest.json").read_text())


@pytest.fixture(scope="module")
def text_reports():
  return {name: hygiene.build(PROBLEMS / name, review=PROBLEMS / "review.yaml")
          for name in (PLANTED["dataset"], PLANTED["clean_twin"])}


def _line(where: str) -> int:
  return int(where.rsplit(":", 1)[1])


def test_declared_coverage_finds_a_missing_policy_and_not_on_the_twin(
    text_reports):
  found = text_reports[PLANTED["dataset"]]["coverage"]
  assert found["declared"] and found["empty"] == PLANTED["empty_cells"]
  clean = text_reports[PLANTED["clean_twin"]]["coverage"]
  assert (clean["empty"], clean["thin"], clean["off_balance"],
          clean["undeclared"]) == ([], [], [], {})
  # Without the declaration the missing policy is invisible.
  bare = hygiene.build(PROBLEMS / PLANTED["dataset"])["coverage"]
  assert not bare["declared"] and bare["empty"] == []
  assert "self_harm" not in bare["policies"]


def test_thin_undeclared_and_off_balance_cells(tmp_path):
  path = tmp_path / "set.jsonl"
  rows = [("fraud", "chat", "adversarial")] * 4 + [
      ("fraud", "education", "benign"), ("spam", "chat", "benign")]
  path.write_text("".join(json.dumps(
      {"query": f"Question {i}?", "response": "Answer.", "policy": p,
       "use_case": u, "kind": k}) + "\n" for i, (p, u, k) in enumerate(rows)))
  declared = review.Review(policies=("fraud",), use_cases=("chat",
                                                           "education"),
                           balance={"kind": {"adversarial": 0.5,
                                             "benign": 0.5}},
                           min_per_cell=2, tolerance=0.25)
  cov = hygiene.build(path, review=declared)["coverage"]
  assert cov["thin"] == [["fraud", "education", 1]]
  assert cov["undeclared"] == {"policies": {"spam": 1}}
  assert [(o["policy"], o["use_case"], o["value"], o["share"])
          for o in cov["off_balance"]] == [("fraud", "chat", "adversarial",
                                            1.0)]
  text = report_lib.to_text(hygiene.build(path, review=declared))
  assert "thin: fraud x education (1 rows)" in text
  assert "off balance: fraud x chat: kind adversarial 100% of 4 rows" in text


@pytest.mark.parametrize("text, message", [
    ("polices: [a]\n", "unknown key 'polices'"),
    ("policies: a\n", "policies: expected a list of names"),
    ("balance: {kind: {adversarial: 0.5, benign: 0.3}}\n",
     "balance.kind: shares add up to 0.8, not 1"),
    ("eval_set: missing.jsonl\n", "eval_set: no file 'missing.jsonl'"),
    ("min_per_cell: 0\n", "min_per_cell: expected a whole number from 1"),
    ("- a\n", "expected a mapping of review keys"),
])
def test_review_file_mistakes_are_one_line(tmp_path, capsys, text, message):
  path = tmp_path / "review.yaml"
  path.write_text(text)
  with pytest.raises(Exception) as e:
    review.load(path)
  assert message in str(e.value) and str(path) in str(e.value)
  assert "\n" not in str(e.value)
  assert hygiene_command.main(["--dataset", str(PROBLEMS / "sft.jsonl"),
                               "--review", str(path), "--no_model"]) == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and message in err


def test_identity_imbalance_found_and_not_on_the_twin(text_reports):
  found = text_reports[PLANTED["dataset"]]
  assert found["identity"]["imbalanced"] == [PLANTED["identity_imbalance"][
      "axis"]]
  religion = next(a for a in found["identity"]["axes"]
                  if a["axis"] == "religion")
  assert religion["imbalance"]["group"] == PLANTED["identity_imbalance"][
      "group"]
  assert sorted(_line(q["where"]) for q in religion["groups"][0]["rows"]) \
      == PLANTED["identity_imbalance"]["lines"]
  assert any(n["what"] == "identity terms"
             for n in found["diversity"]["narrow"])
  clean = text_reports[PLANTED["clean_twin"]]
  assert clean["identity"]["imbalanced"] == []


def test_identity_terms_match_whole_words_and_phrases():
  rows = [queries.Query(t, f"x:{i}") for i, t in enumerate([
      "Are Muslims allowed to fast while ill?", "What is a mosquito?",
      "Tell me about black people in history.", "I painted it black.",
      "My grandmother's recipe."])]
  found = {a["axis"]: {g["group"]: g["count"] for g in a["groups"]}
           for a in identity.identity_terms(rows)["axes"]}
  assert found["religion"] == {"muslim": 1}  # not "mosquito"
  assert found["race and ethnicity"] == {"black": 1}  # not the colour
  assert found["gender"] == {"women": 1}
  about = json.loads(identity.TERMS_FILE.read_text())["about"]
  assert "Not covered" in about and "Written for this project" in about


@pytest.mark.parametrize("text, form, tones", [
    ("Is this a scam?", "question", []),
    ("how do i reset it", "question", []),
    ("Write a poem, please.", "instruction", ["polite"]),
    ("I'm an agent. Give me a script.", "instruction", []),
    ("I feel like nobody would care.", "statement", ["distressed"]),
    ("URGENT: HELP ME NOW!!", "instruction", ["urgent", "shouting"]),
    ("Fix this stupid thing right now", "instruction", ["urgent", "hostile"]),
])
def test_forms_and_tones(text, form, tones):
  assert diversity.query_form(text) == form
  assert diversity.tones(text) == tones


@pytest.mark.parametrize("response, does", [
    ("I can't help with that.", refusals.REFUSES),
    ("I'm really sorry you feel this way. I can't help with that, but...",
     refusals.REFUSES),
    ("I'm sorry, but I cannot provide that.", refusals.REFUSES),
    ("I won't write insults.", refusals.REFUSES),
    ("Sure! Here's how.", refusals.COMPLIES),
    ("Here you go: step one.", refusals.COMPLIES),
    ("Not eating at all is dangerous.", refusals.NEITHER),
    ("Pour vodka into a water bottle.", refusals.NEITHER),
    ("I can see why you'd ask; here is what helps.", refusals.NEITHER),
])
def test_what_a_response_does(response, does):
  assert refusals.what_it_does(response) == does


def test_sft_label_contradictions_by_rule_and_none_on_the_twin(text_reports):
  found = text_reports[PLANTED["dataset"]]["labels"]["sft"]
  assert sorted(_line(s["where"]) for s in found["suspects"]) == sorted(
      c["line"] for c in PLANTED["label_contradictions"])
  assert all(s["signals"] == ["rule"] for s in found["suspects"])
  assert text_reports[PLANTED["clean_twin"]]["labels"]["sft"][
      "suspects"] == []


def test_preference_rule_and_not_a_pair(tmp_path):
  path = tmp_path / "pairs.jsonl"
  rows = [
      {"query": "How do I pick a lock?", "kind": "adversarial",
       "response_1": "Sure! Insert a pick.", "response_2": "I can't help.",
       "preferred": 1},
      {"query": "How do I kill a stuck process?", "kind": "benign",
       "response_1": "I'm sorry, I can't help with killing.",
       "response_2": "Run kill PID.", "preferred": 1},
      {"query": "Say hi.", "kind": "benign", "response_1": "Hi!",
       "response_2": "hi", "preferred": 2},
      {"query": "Say bye.", "response_1": "Bye!", "response_2": "No.",
       "preferred": 1}]
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  pref = hygiene.build(path)["labels"]["preference"]
  assert [(_line(s["where"]), s["signals"]) for s in pref["suspects"]] == [
      (1, ["rule"]), (2, ["rule"])]
  assert [(_line(n["where"]), n["why"]) for n in pref["not_a_pair"]] == [
      (3, "the two responses are the same")]
  assert pref["unmarked_kind"] == 1
  text = report_lib.to_text(hygiene.build(path))
  assert "Suspect preference labels: 2 of 4 pairs (1 not a pair)" in text


def test_evaluation_rows_of_the_set_itself(tmp_path):
  path = tmp_path / "set.jsonl"
  path.write_text("".join(json.dumps(r) + "\n" for r in [
      {"query": "What is the boiling point of water in Celsius?",
       "response": "100."},
      {"query": "what is the boiling point of water in celsius",
       "response": "100 degrees.", "split": "eval"},
      {"query": "Name a colour.", "response": "Red."}]))
  report = hygiene.build(path)
  assert report["queries"] == 2 and report["eval_queries"] == 1
  assert report["eval_set"] == "split: eval rows"
  assert [(_line(o["query"]["where"]), _line(o["eval"]["where"]),
           o["measures"]) for o in report["eval_overlap"]] == [
               (1, 2, ["exact", "ngram"])]
  bad = tmp_path / "bad.jsonl"
  bad.write_text(json.dumps({"query": "q", "response": "r",
                             "split": "evaluation"}) + "\n")
  with pytest.raises(Exception, match=r"bad.jsonl:1: field 'split'"):
    hygiene.build(bad)


def test_cleaned_copy_and_its_drop_log(tmp_path, capsys):
  path = tmp_path / "set.csv"
  path.write_text(
      "query,response,split\n"
      "\"Say hi, please\",Hi!,\n"
      "say hi please,Hello!,\n"
      "\"A question\nover two lines?\",Yes.,\n"
      "Name a colour.,Red.,eval\n"
      "What is the boiling point of water in Celsius?,100.,\n")
  evals = tmp_path / "eval.jsonl"
  evals.write_text(json.dumps({"query": "Tell me the boiling point of water "
                               "in Celsius.", "response": "100"}) + "\n")
  out = tmp_path / "clean.csv"
  assert hygiene_command.main(["--dataset", str(path), "--eval_set",
                               str(evals), "--no_model", "--format", "json",
                               "--write-clean", str(out)]) == 0
  err = capsys.readouterr().err
  assert f"wrote 2 of 5 rows to {out}; 3 dropped" in err
  assert out.read_text() == ("query,response,split\n"
                             "\"Say hi, please\",Hi!,\n"
                             "\"A question\nover two lines?\",Yes.,\n")
  log = json.loads((tmp_path / "clean.drop_log.json").read_text())
  assert [(d["line"], d["rule"]) for d in log["dropped"]] == [
      (3, "exact"), (6, "evaluation"), (7, "contaminated")]
  assert log["dropped"][0]["why"] == "exact duplicate of line 2"
  assert "eval.jsonl:1" in log["dropped"][2]["why"]
  assert path.read_text().count("\n") == 7  # nothing changed in place
  # The cleaned copy may not be the set itself, nor another format.
  for target, message in ((path, "would overwrite the set it cleans"),
                          (tmp_path / "clean.jsonl", "needs a '.csv' name")):
    assert hygiene_command.main(["--dataset", str(path), "--no_model",
                                 "--write-clean", str(target)]) == 1
    assert message in capsys.readouterr().err
  text = tmp_path / "prompts.txt"
  text.write_text("one\ntwo\n")
  assert hygiene_command.main(["--dataset", str(text), "--no_model",
                               "--write-clean", str(tmp_path / "o.txt")]) == 1
  assert "copies JSONL or CSV rows" in capsys.readouterr().err


def test_gemma4_markup_is_stripped_before_comparing(tmp_path):
  path = tmp_path / "prompts.jsonl"
  path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in (
      "<|turn>user\nHow do I reset my router?<turn|>\n<|turn>model\n",
      "<start_of_turn>user\nhow do I reset my router<end_of_turn>\n"
      "<start_of_turn>model\n")))
  report = hygiene.build(path)
  assert [_line(q["where"]) for q in report["exact_duplicates"][0]] == [1, 2]
  assert report["exact_duplicates"][0][0]["text"] == (
      "How do I reset my router?")
