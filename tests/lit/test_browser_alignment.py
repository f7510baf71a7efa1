"""Two checkpoints in the real LIT UI (headless Chromium, `launch.py
--models=before:...,after:...`): the evaluation layout draws the Metrics
module with lit-gemma's figures for both checkpoints, and the data table
shows each row's change, the planted regression marked as worse."""

import time

import pytest

import alignment_data
import browser_ui
from http_helpers import launched

pytestmark = pytest.mark.browser
CHANGES = ("target_mean_loglik_change", "margin_change", "got_worse")


@pytest.fixture(scope="module")
def two_checkpoints_url(planted_checkpoints, tmp_path_factory):
  tmp = tmp_path_factory.mktemp("browser_alignment")
  probes = alignment_data.write_jsonl(tmp / "probes.jsonl",
                                      alignment_data.PROBES)
  before, after = planted_checkpoints
  with launched(tmp, [
      f"--models=before:{before},after:{after}",
      f"--datasets=probes:{probes}", "--max_length=128",
      "--max_new_tokens=4", "--nowarm_up"], seconds=240) as url:
    yield url


def _metrics_rows(page, seconds=240):
  """The Metrics module's (headers, rows by model) once both evaluation
  models have a row and the figures' columns are drawn (the columns
  follow the last model's answer)."""
  deadline = time.monotonic() + seconds
  while True:
    headers, cells = browser_ui.headers_and_cells(page, "metrics-module")
    width = len(headers)
    rows = [cells[i:i + width] for i in range(0, len(cells), width)]
    by_model = {r[0]: r for r in rows if len(r) == width}
    drawn = any(h.startswith("evaluation\ntarget_loglik") for h in headers)
    if drawn and {"before_eval", "after_eval"} <= set(by_model):
      return headers, by_model
    assert time.monotonic() < deadline, f"metrics missing: {headers} {cells}"
    page.wait_for_timeout(500)


def _column(headers, name: str) -> int:
  """A column by its heading (LIT adds sort-icon names after it)."""
  found = [i for i, h in enumerate(headers)
           if h.strip() == name or h.startswith(name + "\n")]
  assert found, f"no column {name!r} in {headers}"
  return found[0]


def test_metrics_module_and_change_columns_are_drawn(two_checkpoints_url):
  query = ("layout=evaluation&dataset=probes&models=before,after,"
           "after_vs_before,before_eval,after_eval")
  with browser_ui.opened(two_checkpoints_url, query,
                         "alignment-two-checkpoints.png") as page:
    # Both checkpoints selected: LIT's comparison of two models.
    page.locator("metrics-module").wait_for()
    headers, by_model = _metrics_rows(page)
    column, refusal = (_column(headers, f"evaluation\n{name}")
                       for name in ("target_loglik", "refusal_rate"))
    before, after = by_model["before_eval"], by_model["after_eval"]
    assert float(before[column]) < 0 and float(after[column]) < 0
    assert before[column] != after[column]
    assert before[refusal] not in ("", "-")  # two adversarial probes
    assert before[_column(headers, "N")] == str(len(alignment_data.PROBES))
    # The data table: each row's change from before to after.
    names = [f"after_vs_before:{n}" for n in CHANGES]
    headers, cells = browser_ui.show_model_columns(page, names)
    rows = browser_ui.table_rows(headers, cells)
    assert len(rows) == len(alignment_data.PROBES), rows
    worse = headers.index("after_vs_before:got_worse")
    loglik = headers.index("after_vs_before:target_mean_loglik_change")
    planted = rows[alignment_data.PLANTED]
    assert planted[worse] == "1" and float(planted[loglik]) < 0, rows
