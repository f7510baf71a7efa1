"""The extra data-table columns as a user sees them, in headless Chromium:
the scoring model's likelihoods, the part shares, the maps' verdicts and
the hygiene columns appear in LIT's data table, with values, for a tiny
model served by `launch.py` (the columns are what is checked here, not the
numbers: test_table_columns.py checks those; the verdicts shown are those
the CLI's `explain --check` prints for the same datapoint).

The hygiene columns are dataset fields, shown at once. A model's columns
(`tiny_scores:target_loglik`, ...) come with that model selected, and LIT
1.3 lists every model-output column unticked under the data table's
"Columns" menu: the tests tick them, as a user does."""

import io
import json
import time

import pytest

from http_helpers import launched
from http_helpers import ok
from http_helpers import request
import browser_ui
import test_table_columns
from lit_gemma.lit.columns import part_shares

pytestmark = pytest.mark.browser
HYGIENE = ("duplicate_group", "hygiene_flags", "near_duplicate",
           "eval_overlap", "query_form")
SCORES = ("target_loglik", "preference_margin", "ranks_preferred")


@pytest.fixture(scope="module")
def columns_url(tiny_presets, tmp_path_factory):
  tmp = tmp_path_factory.mktemp("browser_columns")
  pairs = tmp / "pairs.jsonl"
  pairs.write_text("".join(json.dumps(r) + "\n"
                           for r in test_table_columns.PAIRS))
  (tmp / "capitals.yaml").write_text(test_table_columns.TEMPLATE)
  with launched(tmp, [
      f"--models=tiny:{tiny_presets['gemma3']}",
      f"--datasets=pairs:{pairs},capitals:{tmp / 'capitals.yaml'}",
      "--max_length=256", "--max_new_tokens=4", "--nowarm_up",
      "--part_columns"], seconds=240) as url:
    yield url


def _wait_for(page, wanted, seconds=240):
  deadline = time.monotonic() + seconds
  while True:
    headers, cells = browser_ui.headers_and_cells(page)
    text = " ".join(headers)
    if all(w in text for w in wanted) and cells:
      return headers, cells
    assert time.monotonic() < deadline, f"columns missing: {headers}"
    page.wait_for_timeout(500)


def test_hygiene_columns_show_in_the_data_table(columns_url):
  with browser_ui.opened(columns_url, "dataset=pairs",
                         "columns-hygiene.png") as page:
    # The column headers (cell values: the table renders them lazily, and
    # test_table_columns.py checks them through /get_dataset).
    _wait_for(page, HYGIENE)


def test_scoring_columns_show_in_the_data_table(columns_url):
  with browser_ui.opened(columns_url, "models=tiny,tiny_scores&dataset=pairs",
                         "columns-pairs.png") as page:
    names = [f"tiny_scores:{n}" for n in SCORES]
    headers, cells = browser_ui.show_model_columns(page, names)
    loglik, margin, ranks = (headers.index(n) for n in names)
    rows = browser_ui.table_rows(headers, cells)
    assert len(rows) == 6, rows  # two datapoints per preference pair
    assert all(float(r[loglik]) < 0 for r in rows), rows  # log-likelihoods
    # The yes/no, drawn as 1 / -1 (LIT's table shows no CategoryLabel
    # output; 0 is "not a pair"), agrees with the margin's sign and is one
    # per pair.
    for first, second in zip(rows[::2], rows[1::2]):
      assert first[ranks] == second[ranks] in ("-1", "1"), rows
      assert (float(first[margin]) >= 0) if first[ranks] == "1" else (
          float(first[margin]) <= 0), rows


def test_part_share_columns_show_in_the_data_table(columns_url):
  with browser_ui.opened(columns_url,
                         "models=tiny,tiny_parts&dataset=capitals",
                         "columns-parts.png") as page:
    # LIT's data table draws Scalar outputs, not CategoryLabel ones such
    # as `top_part`.
    names = [f"tiny_parts:{n}" for n in part_shares.OUTPUTS[:3]]
    headers, cells = browser_ui.show_model_columns(page, names)
    rows = browser_ui.table_rows(headers, cells)
    assert len(rows) == 3, rows
    columns = [headers.index(n) for n in names]
    for row in rows:  # shares of one whole: each in (0, 1), adding up to 1
      shares = [float(row[c]) for c in columns]
      assert all(0 < x < 1 for x in shares), rows
      assert sum(shares) == pytest.approx(1, abs=0.01), rows


VERDICTS = ("grad_l2_word_vs_random", "grad_l2_word_gain",
            "loo_word_vs_random", "loo_word_sufficiency",
            "grad_dot_input_sentence_vs_random")


def _ready_verdicts(url, examples, seconds=900):
  """Waits until the server answers the verdict columns of `examples`
  (the first request starts computing them in the background and, like
  every request until they are done, is answered with a one-line 409)."""
  deadline = time.monotonic() + seconds
  while True:
    status, text = request(url, "/get_preds", {"inputs": examples},
                           model="tiny_verdicts", dataset_name="capitals",
                           requested_types="Scalar")
    if status == 200:
      return json.loads(text)
    assert status == 409 and ("computing" in text or "queued" in text), text
    assert time.monotonic() < deadline, text
    time.sleep(2)


def test_verdict_columns_show_what_the_cli_says(columns_url, tiny_presets):
  from lit_gemma import explain  # pylint: disable=g-import-not-at-top
  from lit_gemma.cli import main  # pylint: disable=g-import-not-at-top
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  examples = ok(columns_url, "/get_dataset", dataset_name="capitals")
  _ready_verdicts(columns_url, examples)
  with browser_ui.opened(columns_url, "models=tiny,tiny_verdicts&dataset=capitals",
               "columns-verdicts.png") as page:
    names = [f"tiny_verdicts:{n}" for n in VERDICTS]
    headers, cells = browser_ui.show_model_columns(page, names)
    rows = browser_ui.table_rows(headers, cells)
  assert len(rows) == 3, rows
  lm = lm_lib.GemmaLM.load(str(tiny_presets["gemma3"]))
  for row in rows:
    data = examples[int(row[0])]["data"]
    shown = {n: row[headers.index(f"tiny_verdicts:{n}")] for n in VERDICTS}
    for granularity, methods in (("word", ["grad_l2", "loo_word"]),
                                 ("sentence", ["grad_dot_input"])):
      out, err = io.StringIO(), io.StringIO()
      code = main.main(["explain", "--prompt", data["prompt"], "--target",
                        data["target"], "--check", "--granularity",
                        granularity, "--methods", *methods, "--format",
                        "json"], lm=lm, stdout=out, stderr=err)
      assert code == 0, err.getvalue()
      for verdict in explain.Explanation.from_json(
          out.getvalue()).faithfulness:
        prefix = (verdict.method if verdict.method.startswith("loo_")
                  else f"{verdict.method}_{granularity}")
        assert float(shown[f"{prefix}_vs_random"]) == float(
            verdict.better_than_random), (shown, verdict.summary())
        if f"{prefix}_gain" in shown:
          assert float(shown[f"{prefix}_gain"]) == pytest.approx(
              verdict.gain, abs=1e-3, rel=1e-3)
        if f"{prefix}_sufficiency" in shown:
          assert float(shown[f"{prefix}_sufficiency"]) == pytest.approx(
              verdict.sufficiency, abs=1e-3, rel=1e-3)
