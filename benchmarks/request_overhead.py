"""What the server spends on a request around the model: every body is now
read whole before LIT sees it (web/body.py, issue 27). Times requests to
the real app (a tiny random Gemma, in process, werkzeug's test client):
/get_info without a body and with a ~900 KB one, and /get_preds of the
tokenizer model with a small body, each round a batch of requests; median
and spread of the rounds.

    python benchmarks/request_overhead.py [--rounds 5] [--requests 40]

To compare two versions, run the same file with another checkout first on
the path: `PYTHONPATH=/path/to/other python benchmarks/request_overhead.py`
(the script imports lit_gemma from there).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "tests" / "support"))

import lit_gemma  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position


def _app(tmp: pathlib.Path):
  import served  # pylint: disable=g-import-not-at-top
  import tiny_models  # pylint: disable=g-import-not-at-top
  from lit_gemma.serve import build  # pylint: disable=g-import-not-at-top

  preset = tiny_models.save_preset("gemma3", tmp / "tiny")
  prompts = served.write_jsonl(tmp / "prompts.jsonl", served.PROMPTS)
  config = served.server_config(preset, prompts, max_length=512)
  return build.build_app(config)


def _input(prompt: str) -> dict:
  return {"id": "b", "data": {"prompt": prompt, "target": "", "_id": "b"},
          "meta": {}}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--requests", type=int, default=40)
  args = parser.parse_args(argv)
  from werkzeug import test as werkzeug_test  # pylint: disable=g-import-not-at-top

  with tempfile.TemporaryDirectory() as tmp:
    client = werkzeug_test.Client(_app(pathlib.Path(tmp)))
    # /get_info reads and parses a body it then ignores: the big one
    # measures reading a body, the small /get_preds a whole round trip.
    cases = {
        "/get_info, no body": ("/get_info", None),
        "/get_preds, 200 B body": (
            "/get_preds?model=_tiny_tokenizer&dataset_name=prompts",
            json.dumps({"inputs": [_input("The capital of France is")]})),
        "/get_info, 900 KB body": (
            "/get_info", json.dumps({"config": {"pad": "x" * 900_000}})),
    }
    rows = []
    for name, (path, body) in cases.items():
      client.post(path, data=body)  # Warm.
      rounds = []
      for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.requests):
          client.post(path, data=body, content_type="text/plain")
        rounds.append((time.perf_counter() - start) / args.requests * 1e3)
      rows.append((name, statistics.median(rounds),
                   max(rounds) - min(rounds)))
  print(f"lit_gemma from {pathlib.Path(lit_gemma.__file__).parent}; "
        f"load average {os.getloadavg()[0]:.1f}")
  print(f"{'request':<32} {'median ms':>10} {'spread ms':>10}")
  for name, median, spread in rows:
    print(f"{name:<32} {median:>10.2f} {spread:>10.2f}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
