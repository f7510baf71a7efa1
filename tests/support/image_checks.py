"""What deploy/cloudrun/image_check.sh asks of the running container, as a
team member meets it: /health 503 then 200, one salience request on the
embedded model, and team mode's 403s (one line each, nothing written).

    python tests/support/image_checks.py http://127.0.0.1:PORT

Prints one line per check; exits 1 at the first failure, naming it.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
import urllib.error

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from http_helpers import new_input  # pylint: disable=g-import-not-at-top
from http_helpers import request  # pylint: disable=g-import-not-at-top

DATASET = "fewshot_mistakes"
PROMPT = "The capital of France is"
TARGET = " Paris."
BLOCKED = [
    ("/save_datapoints", {"inputs": []},
     dict(dataset_name=DATASET, path="team_saved")),
    ("/load_datapoints", {}, dict(dataset_name=DATASET, path="/etc/passwd")),
    ("/create_dataset", {"config": {"new_name": "x", "path": "/etc/passwd"}},
     dict(dataset_name="prompt_file")),
    ("/create_model", {"config": {"new_name": "m", "path": "/tmp"}},
     dict(model_name="gemma")),
]


def fail(message: str) -> None:
  print(f"image_checks: FAILED: {message}", flush=True)
  sys.exit(1)


def wait_ready(url: str, seconds: float = 900) -> None:
  start, codes = time.monotonic(), []
  while time.monotonic() - start < seconds:
    try:
      status, text = request(url, "/health", timeout=10)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
      status, text = None, ""
    if not codes or codes[-1] != status:
      codes.append(status)
    if status == 200:
      if text != "lit-gemma: ready\n":
        fail(f"/health 200 said {text!r}")
      print(f"/health: {' -> '.join(map(str, codes))} after "
            f"{time.monotonic() - start:.0f} s", flush=True)
      return
    time.sleep(2)
  fail(f"/health not 200 after {seconds:.0f} s (codes {codes})")


def check_salience(url: str) -> None:
  status, text = request(url, "/get_preds", {"inputs": [new_input(
      {"prompt": PROMPT, "target": TARGET})]}, model="_gemma_salience",
                         dataset_name=DATASET, requested_types="TokenScores")
  if status != 200:
    fail(f"salience request answered {status}: {text[:300]}")
  (result,) = json.loads(text)
  scores = result.get("grad_l2")
  if not scores or not any(s > 0 for s in scores[:-1]):
    fail(f"salience had no positive grad_l2 scores: {result}")
  print(f"salience: {len(scores)} tokens, methods {sorted(result)}",
        flush=True)


def check_team_mode(url: str) -> None:
  for endpoint, body, query in BLOCKED:
    status, text = request(url, endpoint, body, **query)
    line = text.partition("\n")[0]
    if status != 403 or "Traceback" in text or not line.startswith(
        f"{endpoint} is disabled on this team server (--team_mode)"):
      fail(f"{endpoint} answered {status}: {text[:300]}")
  print(f"team mode: {len(BLOCKED)} blocked requests answered 403 "
        f"({line[:70]}...)", flush=True)


def main(url: str) -> None:
  wait_ready(url)
  check_salience(url)
  check_team_mode(url)


if __name__ == "__main__":
  main(sys.argv[1].rstrip("/"))
