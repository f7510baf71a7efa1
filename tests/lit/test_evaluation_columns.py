"""Two checkpoints served side by side through a real LIT server: the
Metrics module's `evaluation` figures equal `lit-gemma evaluate`'s for the
same rows, each row's change is a data-table column, a dynamic template's
route comes from the loaded model, and each checkpoint generates its own
response (a recorded one belongs to neither)."""

import io
import json
import os

import pytest

import alignment_data
from http_helpers import ok
from lit_gemma import paths
from lit_gemma.cli import main
from lit_gemma.lit.columns import change
from lit_gemma.lit.columns import evaluation
from lit_gemma.lit import evaluation_metrics
from lit_gemma.lit import layouts
from lit_gemma.serve import config as config_lib

MAX_NEW_TOKENS = 4
ROUTED = """
- id: short
  template: "Q: {{q}}\\nA:"
- id: long
  template: "Question: {{q}}\\nAnswer in full:"
- id: dynamic
  route:
    classify: "Is this about bees or water?\\n{{q}}\\nTopic:"
    templates: {bees: short, water: long}
  rows:
    - {q: "Why do bees dance?", target: " To show flowers.", split: eval}
    - {q: "What is water made of?", target: " Hydrogen.", split: eval}
"""


@pytest.fixture(scope="module")
def live(planted_checkpoints, tmp_path_factory):
  """The server, with a response cache of its own that `evaluate` (run in
  this process) shares, as a user's server and CLI share theirs."""
  import served  # pylint: disable=g-import-not-at-top

  tmp = tmp_path_factory.mktemp("alignment_columns")
  saved = os.environ.get(paths.CACHE_ENV)
  os.environ[paths.CACHE_ENV] = str(tmp / "cache")
  (tmp / "t.yaml").write_text(alignment_data.TEMPLATES)
  (tmp / "routed.yaml").write_text(ROUTED)
  probes = alignment_data.PROBES + [
      {"prompt": "Q: Say hi.\nA:", "target": " Hi.", "response": " Hello."}]
  alignment_data.write_jsonl(tmp / "probes.jsonl", probes)
  before, after = planted_checkpoints
  config = config_lib.ServerConfig(
      models=(("before", str(before)), ("after", str(after))),
      datasets=(("templates", str(tmp / "t.yaml")),
                ("probes", str(tmp / "probes.jsonl")),
                ("routed", str(tmp / "routed.yaml"))),
      max_length=128, max_new_tokens=MAX_NEW_TOKENS, warm_up=False,
      batch_size=4)
  try:
    with served.served(config) as app:
      yield app, tmp
  finally:
    if saved is None:
      os.environ.pop(paths.CACHE_ENV)
    else:
      os.environ[paths.CACHE_ENV] = saved


def _examples(url, dataset):
  return ok(url, "/get_dataset", {}, dataset_name=dataset)


def test_models_metrics_and_layout_are_listed(live):
  app, _ = live
  info = ok(app.url, "/get_info", {})
  models = info["models"]
  for name in ("before_eval", "after_eval", "after_vs_before"):
    assert name in models, sorted(models)
  assert "before_vs_after" not in models  # the first is the baseline
  assert evaluation_metrics.NAME in models["after_eval"]["metrics"]
  assert evaluation_metrics.NAME not in models["after"]["metrics"]
  layout = info["layouts"][layouts.EVALUATION]
  modules = {m for group in ("left", "upper", "lower")
             for tab in layout[group].values() for m in tab}
  assert {"metrics-module", "data-table-module",
          "sequence-salience-module"} <= modules
  metrics_spec = info["metrics"][evaluation_metrics.NAME]["metaSpec"]
  assert metrics_spec["over_refusal_rate"]["best_value"] == "lowest"


def test_metrics_module_equals_evaluate_for_the_same_rows(live):
  app, tmp = live
  rows = [ex for ex in _examples(app.url, "templates")
          if ex["data"]["template_id"] == "plain"
          and ex["data"].get("split") == "eval"]
  assert len(rows) == 3
  answer = ok(app.url, "/get_metrics", {"inputs": rows},
              model="before_eval", dataset_name="templates",
              metrics=evaluation_metrics.NAME)
  [result] = answer[evaluation_metrics.NAME]
  assert result["pred_key"] == evaluation.RESPONSE
  lit_figures = result["metrics"]
  out, err = io.StringIO(), io.StringIO()
  status = main.main(["evaluate", "--dataset", str(tmp / "t.yaml"),
                      "--format", "json", "--max-new-tokens",
                      str(MAX_NEW_TOKENS), "--max-length", "128"],
                     lm=app.app.lms["before"], stdout=out, stderr=err)
  assert status == 0, err.getvalue()
  cli_figures = json.loads(out.getvalue())["templates"]["plain"]
  assert set(lit_figures) == set(cli_figures)
  for name, value in cli_figures.items():
    if value is None:
      assert lit_figures[name] is None, name
    else:
      assert lit_figures[name] == pytest.approx(value, rel=1e-5,
                                                abs=1e-6), name


def test_change_columns_find_the_planted_regression(live):
  app, _ = live
  rows = _examples(app.url, "probes")[:len(alignment_data.PROBES)]
  changes = ok(app.url, "/get_preds", {"inputs": rows},
               model="after_vs_before", dataset_name="probes",
               requested_types="Scalar")
  before = ok(app.url, "/get_preds", {"inputs": rows}, model="before_scores",
              dataset_name="probes", requested_types="Scalar")
  after = ok(app.url, "/get_preds", {"inputs": rows}, model="after_scores",
             dataset_name="probes", requested_types="Scalar")
  assert all(set(c) == set(change.OUTPUTS) for c in changes)
  planted = changes[alignment_data.PLANTED]
  assert planted["got_worse"] == 1 and planted["margin_change"] == 0.0
  assert planted["target_mean_loglik_change"] == min(
      c["target_mean_loglik_change"] for c in changes)
  for c, b, a in zip(changes, before, after):
    assert c["target_mean_loglik_change"] == pytest.approx(
        a["target_mean_loglik"] - b["target_mean_loglik"], abs=1e-4)
  # A probe with a foil: its margin and the foil's likelihood change too.
  assert changes[0]["other_loglik_change"] != 0.0
  assert changes[0]["got_worse"] == int(changes[0]["margin_change"] < 0)


def test_each_checkpoint_generates_its_own_response(live):
  app, _ = live
  recorded = _examples(app.url, "probes")[-1]
  assert recorded["data"]["response"] == " Hello."
  for model in ("before", "after"):
    [pred] = ok(app.url, "/get_preds", {"inputs": [recorded]}, model=model,
                dataset_name="probes", requested_types="GeneratedText")
    assert pred["response"] != " Hello."


def test_dynamic_template_is_routed_by_the_loaded_model(live):
  app, _ = live
  rows = [ex["data"] for ex in _examples(app.url, "routed")]
  assert {r["template_id"] for r in rows} == {"dynamic"}
  assert all(r["route"] in ("bees", "water") for r in rows)
  for r in rows:  # the prompt is the chosen template's
    assert r["prompt"].startswith("Q: " if r["route"] == "bees"
                                  else "Question: ")
