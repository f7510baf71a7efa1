"""Data-table columns beyond the model groups: each template part's share
of salience (opt-in, computed in the background behind the UI's requests),
the scoring model, and the hygiene annotator, through a real LIT server."""

import json
import time

import numpy as np
import pytest

from http_helpers import ok
from lit_gemma.serve import build
from lit_gemma.serve import config as config_lib
from lit_gemma.lit import datasets
from lit_gemma.tuning import vectors as vectors_lib
from lit_gemma.lit.columns import hygiene_annotator
from lit_gemma.models import lm as lm_lib
from lit_gemma.lit.columns import part_shares
from lit_gemma.prompts import parts as parts_lib
from lit_gemma.models import gate as gate_lib
from lit_gemma.lit.columns import scoring

TEMPLATE = """\
- id: capitals
  template: |-
    Answer with the capital city only.

    {{examples}}

    Q: {{country}}
    A:
  example_template: "Q: {{country}}\\nA: {{capital}}"
  examples:
    - {country: Spain, capital: Madrid}
    - {country: Italy, capital: Rome}
  rows:
    - {country: France, target: " Paris"}
    - {country: Japan, target: " Tokyo"}
    - {country: Peru, target: " Lima"}
"""
PAIRS = [
    {"query": "How do I bake bread?", "response_1": "Mix flour.",
     "response_2": "No.", "preferred": 1},
    {"query": "how do I   bake bread", "response_1": "Knead it.",
     "response_2": "Go away.", "preferred": 1},
    {"query": "Name a prime number.", "response_1": "7",
     "response_2": "8", "preferred": 1},
]


@pytest.fixture(scope="module")
def tiny_lm():
  import tiny_models  # pylint: disable=g-import-not-at-top
  return lm_lib.GemmaLM(tiny_models.build_causal_lm("gemma3"))


@pytest.fixture(scope="module")
def live(tiny_lm, tmp_path_factory):
  import served  # pylint: disable=g-import-not-at-top

  tmp = tmp_path_factory.mktemp("columns")
  (tmp / "capitals.yaml").write_text(TEMPLATE)
  (tmp / "pairs.jsonl").write_text(
      "".join(json.dumps(r) + "\n" for r in PAIRS))
  config = config_lib.ServerConfig(
      models=(("tiny", "unused"),),
      datasets=(("capitals", str(tmp / "capitals.yaml")),
                ("pairs", str(tmp / "pairs.jsonl"))),
      max_length=256, max_new_tokens=4, warm_up=False, part_columns=True,
      near_duplicate_columns=True)
  served_app = served.Served(build.build_app(
      config, lms={"tiny": tiny_lm}))
  yield served_app
  served_app.close()


def _by_hand(lm, prompt, target, prompt_parts):
  """Part shares from the engine's grad_l2 and parts.token_ranges."""
  out = lm.salience(prompt, target)
  tokens = list(out.tokens)
  ranges = parts_lib.token_ranges(tokens, prompt_parts, out.prompt_tokens)
  scores = np.asarray(out.scores["grad_l2"], np.float64)
  mass = {}
  for start, end, label in ranges:
    if label != parts_lib.TARGET:
      mass[label] = mass.get(label, 0.0) + scores[start:end].sum()
  total = sum(mass.values())
  return {label: value / total for label, value in mass.items()}


def test_part_shares_in_the_table_equal_the_salience_summed_by_hand(
    live, tiny_lm):
  info = ok(live.url, "/get_info")
  # Served on the template dataset: else the UI never asks for its columns.
  assert "capitals" in info["models"]["tiny_parts"]["datasets"]
  spec = info["models"]["tiny_parts"]["spec"]["output"]
  assert set(spec) == set(part_shares.OUTPUTS)
  worker = live.app.column_workers[0]
  worker.join(timeout=120)  # computed in the background, once
  assert not worker.is_alive()
  examples = ok(live.url, "/get_dataset", dataset_name="capitals")
  preds = ok(live.url, "/get_preds", {"inputs": examples},
             model="tiny_parts", dataset_name="capitals",
             requested_types="Scalar,CategoryLabel")
  assert len(preds) == 3
  for example, pred in zip(examples, preds):
    data = example["data"]
    hand = _by_hand(tiny_lm, data["prompt"], data["target"],
                    parts_lib.parse(data["prompt_parts"]))
    assert set(hand) == {"template", "example 1", "example 2",
                         "{{country}}"}
    assert pred["part_share_template"] == pytest.approx(hand["template"],
                                                        rel=1e-4)
    assert pred["part_share_examples"] == pytest.approx(
        hand["example 1"] + hand["example 2"], rel=1e-4)
    assert pred["part_share_input"] == pytest.approx(hand["{{country}}"],
                                                     rel=1e-4)
    assert pred["top_part"] == max(hand, key=hand.get)
  # Datapoints without parts (a tuning set) get empty rows, not errors.
  pairs = ok(live.url, "/get_dataset", dataset_name="pairs")
  empty = ok(live.url, "/get_preds", {"inputs": pairs}, model="tiny_parts",
             dataset_name="pairs", requested_types="Scalar,CategoryLabel")
  assert all(p["top_part"] == "" for p in empty)


def test_background_shares_wait_for_foreground_requests(tiny_lm):
  model = part_shares.PartShareModel(tiny_lm, 256)
  rows = datasets.load(datasets.BUNDLED_DIR / "fewshot_mistakes.yaml",
                       max_examples=2).examples
  gate = gate_lib.Gate(quiet_s=0.1)
  with gate.foreground():  # a click in flight
    worker = part_shares.start_worker(model, rows, gate)
    time.sleep(1.0)
    assert len(model.store) == 0  # nothing computed behind the click
  worker.join(timeout=120)
  assert len(model.store) == len(rows) == 2
  assert gate.active == 0


def test_scoring_and_hygiene_columns_through_the_server(live):
  info = ok(live.url, "/get_info")
  assert "tiny_scores" in info["models"]  # selectable: drawn in the table
  # Served on the preference set: else the UI never asks for its columns.
  assert "pairs" in info["models"]["tiny_scores"]["datasets"]
  pairs = ok(live.url, "/get_dataset", dataset_name="pairs")
  spec = info["datasets"]["pairs"]["spec"]
  assert set(hygiene_annotator.COLUMNS) <= set(spec)
  # Two datapoints per pair; the first two pairs are exact duplicates.
  groups = [p["data"]["duplicate_group"] for p in pairs]
  assert groups[:4] == ["dup 1"] * 4 and groups[4:] == ["", ""]
  assert pairs[0]["data"]["hygiene_flags"].startswith("duplicate")
  # Near duplicates by the model: a pair's two datapoints share one value,
  # and an exact duplicate is not counted as a near one.
  near = [p["data"]["near_duplicate"] for p in pairs]
  assert near[0] == near[1] and near[4] == near[5]
  vectors = vectors_lib.query_vectors(live.app.lms["tiny"],
                                     [q["query"] for q in PAIRS])
  assert near[4] == pytest.approx(  # the prime query: its nearest other
      max(float((vectors[:2] @ vectors[2]).max()), 0.0), abs=1e-4)
  preds = ok(live.url, "/get_preds", {"inputs": pairs}, model="tiny_scores",
             dataset_name="pairs", requested_types="Scalar,CategoryLabel")
  assert all(p["target_loglik"] < 0 for p in preds)
  assert preds[0]["preference_margin"] == pytest.approx(
      preds[1]["preference_margin"])


def test_data_map_vectors_and_their_projection(live):
  """The annotator's query vectors are a dataset Embeddings field; LIT's
  Embeddings module projects it with an empty model name, which the request
  checks allow only as a dataset-field projection."""
  from http_helpers import request  # pylint: disable=g-import-not-at-top
  info = ok(live.url, "/get_info")
  spec = info["datasets"]["pairs"]["spec"]
  assert spec["query_vector"]["__name__"] == "Embeddings"
  assert spec["topic"]["__name__"] == "CategoryLabel"
  pairs = ok(live.url, "/get_dataset", dataset_name="pairs")
  assert all(p["data"]["topic"].startswith("topic 1") for p in pairs)
  assert pairs[0]["data"]["query_vector"] == pairs[1]["data"]["query_vector"]
  config = {"dataset_name": "pairs", "model_name": "",
            "field_name": "query_vector", "use_input": True,
            "proj_kw": {"n_components": 3}}
  ids = [p["id"] for p in pairs]
  points = ok(live.url, "/get_interpretations", {"inputs": ids,
                                                  "config": config},
              model="", dataset_name="pairs", interpreter="pca")
  assert len(points) == 6 and all(len(p["z"]) == 3 for p in points)
  for change, message in (
      ({"use_input": False}, "the config needs use_input true"),
      ({"field_name": "prompt"}, "field_name is one of ['query_vector']"),
      ({"proj_kw": {"n_components": 2}}, "proj_kw must be")):
    status, text = request(live.url, "/get_interpretations",
                           {"inputs": ids, "config": config | change},
                           model="", dataset_name="pairs",
                           interpreter="pca")[:2]
    assert status == 400 and message in text, (change, text)
  bare = [dict(p["data"], query_vector=None) for p in pairs[:1]]
  status, text = request(live.url, "/get_interpretations",
                         {"inputs": [{"id": pairs[0]["id"], "data": bare[0]}],
                          "config": config},
                         model="", dataset_name="pairs", interpreter="pca")[:2]
  assert status == 400 and "has no query_vector" in text


def test_column_models_are_served_on_long_and_short_texts(tiny_lm, tmp_path):
  """LIT serves a model on a dataset only if every field the model reads
  has exactly the model's input type; a metadata column's type follows its
  values (short text: CategoryLabel, long: String), so the fields the
  column models read must not."""
  long_text = "A response long enough to be more than one category. " * 2
  for name, response in (("short", "No."), ("long", long_text)):
    path = tmp_path / f"{name}.jsonl"
    path.write_text(json.dumps({"query": "Why?", "response_1": response,
                                "response_2": response + " Yes.",
                                "preferred": 2}) + "\n")
    assert scoring.ScoringModel(tiny_lm).is_compatible_with_dataset(
        datasets.load(path)), name
  for name, text in (("short", "- id: t\n  template: '{{x}}'\n  rows: [{x: a}]\n"),
                     ("long", TEMPLATE)):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    assert part_shares.PartShareModel(tiny_lm, 256).is_compatible_with_dataset(
        datasets.load(path)), name


def test_hygiene_annotator_finds_the_bundled_planted_cases():
  planted = json.loads(
      (datasets.BUNDLED_DIR / "tuning_manifest.json").read_text())
  sft = datasets.load(datasets.BUNDLED_DIR / planted["dataset"])
  evals = datasets.load(datasets.BUNDLED_DIR / planted["eval_set"])
  rows = [dict(ex) for ex in sft.examples]
  spec = dict(sft.spec())
  hygiene_annotator.HygieneAnnotator([evals]).annotate(rows, sft, spec)
  assert set(hygiene_annotator.COLUMNS) <= set(spec)
  groups = {}
  for line, row in enumerate(rows, start=1):
    if row["duplicate_group"]:
      groups.setdefault(row["duplicate_group"], []).append(line)
  assert sorted(groups.values()) == sorted(planted["exact_duplicates"])
  overlapping = {line for line, row in enumerate(rows, start=1)
                 if row["eval_overlap"]}
  assert {c["line"] for c in planted["eval_overlap"]} <= overlapping
  assert all(row["near_duplicate"] == 0.0 for row in rows)  # no model
  assert all(row["topic"] == "" for row in rows) and "query_vector" not in spec


def test_split_eval_rows_are_the_evaluation_items(tmp_path):
  """Without an evaluation dataset, a set's own `split: eval` rows are the
  evaluation items the other rows are compared with."""
  path = tmp_path / "set.jsonl"
  path.write_text("".join(json.dumps(r) + "\n" for r in [
      {"query": "What is the boiling point of water in Celsius?",
       "response": "100."},
      {"query": "Tell me the boiling point of water in Celsius please.",
       "response": "100.", "split": "eval"},
      {"query": "Name a colour.", "response": "Red."}]))
  data = datasets.load(path)
  rows = [dict(ex) for ex in data.examples]
  hygiene_annotator.HygieneAnnotator([], all_datasets=[data]).annotate(
      rows, data, dict(data.spec()))
  assert [r["eval_overlap"] for r in rows] == ["ngram", "", ""]
  assert [r["hygiene_flags"] for r in rows] == [
      "eval overlap", "evaluation row", ""]
