"""What the extra data-table columns cost, with the embedded Gemma 3 270M
and the bundled datasets (model load not counted):

  - building the app (LIT runs the hygiene annotator once per dataset here,
    near duplicates through the model included), with and without it;
  - /get_info with the scoring and part-share models served, against
    without: the first page's one extra cost, since LIT's UI selects only
    the first model (the generation model) and computes no other model's
    columns until the user selects it;
  - the scoring model's columns for every bundled datapoint (what selecting
    `gemma_scores` costs once; then cached);
  - the part shares of every template datapoint (what the background
    worker does once, behind the UI's requests).

  .venv/bin/python benchmarks/table_columns.py
"""

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

# pylint: disable=g-import-not-at-top
from werkzeug import test as werkzeug_test

from lit_gemma.serve import build
from lit_gemma.serve import config as config_lib
from lit_gemma.models import lm as lm_lib
from lit_gemma.lit.columns import part_shares
from lit_gemma.lit.columns import wiring


def _timed(fn):
  start = time.monotonic()
  out = fn()
  return out, time.monotonic() - start


def main() -> None:
  lm, load_s = _timed(lambda: lm_lib.GemmaLM.load("embedded"))
  print(f"model load (not counted): {load_s:.1f} s")
  config = config_lib.ServerConfig(warm_up=False, part_columns=True,
                                   near_duplicate_columns=True)
  app, with_s = _timed(lambda: build.build_app(config,
                                                     lms={"gemma": lm}))
  original = wiring.annotators
  wiring.annotators = lambda *a: []
  try:
    plain, without_s = _timed(lambda: build.build_app(
        config_lib.ServerConfig(warm_up=False), lms={"gemma": lm}))
  finally:
    wiring.annotators = original
  print(f"build_app: {with_s:.2f} s with the hygiene annotator and extra "
        f"models, {without_s:.2f} s without")
  for label, served in (("with", app), ("without", plain)):
    client = werkzeug_test.Client(served)
    times = []
    for _ in range(3):
      answer, seconds = _timed(lambda: client.post(
          "/get_info", data="{}", headers={"Host": "127.0.0.1"}))
      assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
      times.append(seconds)
    print(f"/get_info {label} the scoring and part-share models: "
          f"{min(times) * 1000:.0f} ms (best of 3)")
  scoring = app._models["gemma_scores"]  # pylint: disable=protected-access
  shares = app.column_workers[0]
  shares.stop.set()
  examples = [ex for name, ds in app._datasets.items()  # pylint: disable=protected-access
              for ex in ds.examples]
  _, score_s = _timed(lambda: list(scoring.predict(examples)))
  print(f"scoring model over all {len(examples)} bundled datapoints: "
        f"{score_s:.1f} s ({len(examples) / score_s:.1f} datapoints/s)")
  model = part_shares.PartShareModel(lm, config.max_length)
  templated = [ex for ex in examples if ex.get("prompt_parts")]
  _, share_s = _timed(lambda: model.predict(templated))
  print(f"part shares of {len(templated)} template datapoints: "
        f"{share_s:.1f} s ({len(templated) / share_s:.2f} datapoints/s)")


if __name__ == "__main__":
  main()
