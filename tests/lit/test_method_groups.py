"""The UI's faithful and contrastive maps and the verdict columns, through a
real LIT server on a tiny random Gemma 3: each group's salience model
answers what explain() computes; a contrastive group reads the datapoint's
foil; long work is answered with a one-line 409 while it runs in the
background, never held past the wait; the verdict columns equal the
deletion test the CLI runs."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from http_helpers import assert_short_error
from http_helpers import new_input
from http_helpers import ok
from http_helpers import request
from lit_gemma import explain
from lit_gemma.explain import faithfulness
from lit_gemma.lit.columns import verdicts
from lit_gemma.serve import build
from lit_gemma.serve import config as config_lib

WAIT_S = 600.0  # the tiny model compiles each new shape on a busy machine
ROWS = [
    {"prompt": "Water is made of hydrogen. The capital of France is",
     "target": " Paris.", "foil": " Rome."},
    {"prompt": "The capital of France is", "target": " Paris and Rome."},
]


@pytest.fixture(scope="module")
def live(tiny_lm, tmp_path_factory):
  import served  # pylint: disable=g-import-not-at-top

  data = served.write_jsonl(tmp_path_factory.mktemp("groups") / "d.jsonl",
                            ROWS)
  config = config_lib.ServerConfig(
      models=(("tiny", "unused"),), datasets=(("d", str(data)),),
      max_length=128, max_new_tokens=4, warm_up=False, verdict_columns=True)
  app = served.Served(build.build_app(config, lms={"tiny": tiny_lm}))
  app.app.jobs.wait_s = WAIT_S
  yield app
  app.close()


def _salience(live, group, data, mask=None):
  data = dict(data)
  if mask is not None:
    data["target_mask"] = list(mask)
  return request(live.url, "/get_preds", {"inputs": [new_input(data)]},
                 model=f"_{group}_salience", dataset_name="d")


def test_groups_answer_what_explain_computes(live, tiny_lm):
  row = ROWS[0]
  tokens = tiny_lm.shown_tokens(row["prompt"], row["target"])
  mask = np.zeros(len(tokens))
  mask[-2] = 1  # one target token, as a click sends it
  cases = {"tiny_loo": ({}, ["loo_sentence", "loo_line"]),
           "tiny_contrast": ({"foil": row["foil"]},
                             ["grad_l2", "grad_dot_input"]),
           "tiny_loo_contrast": ({"foil": row["foil"]},
                                 ["loo_sentence", "loo_line"]),
           "tiny_greedy": ({}, ["greedy_sentence", "greedy_line"])}
  for group, (foil, methods) in cases.items():
    status, text = _salience(live, group, {**row, "foil": "", **foil}, mask)
    assert status == 200, text
    out = json.loads(text)[0]
    exp = explain.explain_many(tiny_lm, [explain.Item(
        row["prompt"], row["target"], foil=foil.get("foil", ""),
        target_mask=mask)], methods=methods)[0]
    assert out["tokens"] == exp.tokens
    for method in methods:
      np.testing.assert_allclose(out[method], exp.scores[method],
                                 rtol=1e-5, atol=1e-6)


def test_a_contrastive_group_refuses_a_datapoint_without_foil(live):
  status, text = _salience(live, "tiny_contrast", ROWS[1])
  assert status == 400
  assert_short_error(text)
  assert "no foil" in text


def test_a_greedy_map_of_too_many_sentences_is_refused_in_one_line(live):
  # 25 lines and the newlines between them: 51 segments in ~52 tokens.
  row = {"prompt": "x\n" * 25 + "so", "target": " is."}
  status, text = _salience(live, "tiny_greedy", row)
  assert status == 400, text
  assert_short_error(text)
  assert "greedy_sentence of a prompt of 51 sentence segments" in text
  assert "at most 48" in text


def test_a_refused_greedy_map_empties_only_its_own_verdict_columns(tiny_lm):
  row = verdicts.verdict_row(tiny_lm, "x\n" * 25 + "so", " is.", 128)
  assert np.isnan(row["greedy_sentence_vs_random"])
  assert row["fit_sentence_vs_random"] in (0.0, 1.0)
  assert row["grad_l2_word_vs_random"] in (0.0, 1.0)


def test_long_work_answers_409_then_the_map(live, tiny_lm):
  row = {"prompt": "Bees dance to show where", "target": " flowers are."}
  live.app.jobs.wait_s = 0.0  # as if the map took longer than a request
  try:
    status, text = _salience(live, "tiny_ig", row)
    assert status == 409, text
    assert_short_error(text)
    assert "integrated_gradients map of this text: " in text
    assert "ask again" in text
    deadline = time.monotonic() + 300
    while live.app.jobs.pending and time.monotonic() < deadline:
      time.sleep(0.2)
    status, text = _salience(live, "tiny_ig", row)
    assert status == 200, text
  finally:
    live.app.jobs.wait_s = WAIT_S
  out = json.loads(text)[0]
  exp = explain.explain(tiny_lm, row["prompt"], row["target"],
                        methods=["integrated_gradients"])
  np.testing.assert_allclose(out["integrated_gradients"],
                             exp.scores["integrated_gradients"], rtol=1e-5,
                             atol=1e-6)


def test_verdict_columns_equal_the_deletion_test(live, tiny_lm):
  (worker,) = live.app.column_workers  # --verdict_columns: every row
  worker.join(timeout=WAIT_S)
  assert not worker.is_alive()
  examples = ok(live.url, "/get_dataset", dataset_name="d")
  preds = ok(live.url, "/get_preds", {"inputs": examples},
             model="tiny_verdicts", dataset_name="d",
             requested_types="Scalar")
  row = ROWS[0]
  exp = explain.explain(tiny_lm, row["prompt"], row["target"],
                        methods=["grad_l2", "grad_dot_input", "loo_word",
                                 "integrated_gradients"])
  for verdict in faithfulness.check(tiny_lm, exp, "word"):
    for name, value in verdicts.cells(verdict).items():
      if np.isnan(value):
        assert preds[0][name] is None, name
      else:
        assert preds[0][name] == pytest.approx(value, rel=1e-6), name
  # The second prompt has 1 sentence: its sentence-level checks are empty.
  assert preds[1]["grad_l2_sentence_vs_random"] is None
  assert preds[1]["grad_l2_word_vs_random"] in (0.0, 1.0)
