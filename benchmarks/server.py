"""Server start-up and salience latency with the embedded Gemma 3 270M.

Prints, for `python launch.py` as a user starts it:
  (a) first start after `make prepare` (run first, timed apart): the
      converted model and the datasets' responses are cached, JAX's
      compilation cache is empty (--unprepared: prepare converts only);
  (b) a restart: every cache warm (the one (a) filled);
each as seconds from process start to `/get_info` answering (the page can
load) and to the data table's responses (`/get_preds` of the generation
model over the first dataset, what the page asks for next). Then, on the
warm server, seconds for one salience request over HTTP on a text of about
128 tokens: a click on another span of the same text (the common click),
and the first click on a new text; median of --repeats.

Goals (issue 4): warm start <= 30 s; warm salience request <= 1.2 s.

With --user_path (issue 22), instead: the first minutes as a user meets
them, from the start of `make serve`'s commands to the URL, the page opened
in Chromium at once and clicked (see benchmarks/user_path.py); a restart
(every cache warm), or with --fresh_clone a clone served by `make serve`
with every cache empty, install included (goals: 5 min to the URL fresh,
30 s on a restart, every click <= 2 s).

  python benchmarks/server.py [--dataset NAME:PATH] [--repeats 7]
  python benchmarks/server.py --user_path [--fresh_clone] [--minutes 3]

Runs on a private cache root; only the converted model (and on a
--user_path restart the compile cache) is linked from the user's cache
(converted first if missing); prepare writes the responses there.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lit_gemma.lit import datasets as datasets_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma import paths  # pylint: disable=g-import-not-at-top,wrong-import-position

# Salience texts stay in the 128-token bucket: an example of at most this
# many tokens, and the same with a short new first line.
MAX_EXAMPLE_TOKENS = 124


def _prepare(cache: pathlib.Path, dataset: str, unprepared: bool,
             *flags: str) -> None:
  """`make prepare` for the server the benchmark starts (its flags)."""
  start = time.monotonic()
  subprocess.run(
      [sys.executable, "-m", "lit_gemma.serve.prepare",
       *(["--no_responses"] if unprepared else
         ["--models=gemma:embedded", f"--datasets={dataset}", *flags])],
      check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
      env=dict(os.environ, LIT_GEMMA_CACHE=str(cache)))
  print(f"prepare ({'convert only' if unprepared else 'responses too'}): "
        f"{time.monotonic() - start:.1f} s", flush=True)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _post(url: str, endpoint: str, body, **params):
  query = urllib.parse.urlencode(params)
  request = urllib.request.Request(
      f"{url}{endpoint}?{query}", data=json.dumps(body).encode(),
      method="POST", headers={"Content-Type": "application/json"})
  with urllib.request.urlopen(request, timeout=3600) as response:
    return json.loads(response.read())


class Server:
  """`python launch.py ...` in a subprocess, timed from its start."""

  def __init__(self, cache: pathlib.Path, dataset: str, log: pathlib.Path,
               *flags: str):
    self.port = _free_port()
    self.url = f"http://127.0.0.1:{self.port}"
    self.start = time.monotonic()
    with open(log, "w") as out:
      self.process = subprocess.Popen(
          [sys.executable, str(ROOT / "launch.py"), "--models=gemma:embedded",
           f"--datasets={dataset}", f"--port={self.port}", *flags],
          stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
          env=dict(os.environ, LIT_GEMMA_CACHE=str(cache)))
    self.log = log

  def seconds_to_info(self) -> float:
    while True:
      if self.process.poll() is not None:
        sys.exit(f"server exited:\n{self.log.read_text()[-2000:]}")
      try:
        _post(self.url, "/get_info", {})
        return time.monotonic() - self.start
      except (urllib.error.URLError, ConnectionError):
        time.sleep(0.2)

  def seconds_to_table(self, dataset_name: str) -> float:
    ids = [ex["id"] for ex in
           _post(self.url, "/get_dataset", {}, dataset_name=dataset_name)]
    _post(self.url, "/get_preds", {"inputs": ids}, model="gemma",
          dataset_name=dataset_name, requested_types="GeneratedText")
    return time.monotonic() - self.start

  def stop(self) -> None:
    self.process.send_signal(signal.SIGTERM)
    self.process.wait(timeout=60)


def _longest_example(url: str, dataset_name: str, most: int) -> dict:
  """The dataset example with the longest prompt + target of <= `most`
  tokens."""
  examples = [ex for ex in _post(url, "/get_dataset", {},
                                 dataset_name=dataset_name)
              if ex["data"].get("target")]
  counts = [len(t["tokens"]) for t in _post(
      url, "/get_preds", {"inputs": [ex["id"] for ex in examples]},
      model="_gemma_tokenizer", dataset_name=dataset_name)]
  best = max((i for i in range(len(examples)) if counts[i] <= most),
             key=lambda i: counts[i])
  return {"prompt": examples[best]["data"]["prompt"],
          "target": examples[best]["data"]["target"], "tokens": counts[best]}


def _salience_seconds(url: str, dataset_name: str, prompt: str, target: str,
                      count: int, span_start: int) -> float:
  """Seconds for one salience request (span of one token) over HTTP."""
  mask = [0] * count
  mask[span_start] = 1
  data = {"prompt": prompt, "target": target, "target_mask": mask}
  example_id = f"bench-{hash(json.dumps(data))}"
  body = {"inputs": [{"id": example_id, "data": dict(data, _id=example_id),
                      "meta": {"added": True}}]}
  start = time.monotonic()
  _post(url, "/get_preds", body, model="_gemma_salience",
        dataset_name=dataset_name, requested_types="TokenScores")
  return time.monotonic() - start


def _measure_salience(server: Server, dataset_name: str, repeats: int
                      ) -> str:
  """Median seconds of warm salience clicks on a ~128-token example."""
  example = _longest_example(server.url, dataset_name, MAX_EXAMPLE_TOKENS)
  count = example["tokens"]
  # The first click on this text (its forward pass is then kept).
  _salience_seconds(server.url, dataset_name, example["prompt"],
                    example["target"], count, count - 1)
  spans = [_salience_seconds(server.url, dataset_name, example["prompt"],
                             example["target"], count, count - 2 - i)
           for i in range(repeats)]
  news, new_counts = [], []
  for i in range(repeats):  # The same text with a new first line.
    prompt = f"{i}. {example['prompt']}"
    tokens = _post(server.url, "/get_preds", {"inputs": [{
        "id": f"t{i}", "data": {"_id": f"t{i}", "prompt": prompt,
                                "target": example["target"]},
        "meta": {"added": True}}]}, model="_gemma_tokenizer",
                   dataset_name=dataset_name)[0]["tokens"]
    new_counts.append(len(tokens))
    news.append(_salience_seconds(server.url, dataset_name, prompt,
                                  example["target"], len(tokens),
                                  len(tokens) - 1))
  return (f"warm salience over HTTP: another span of a {count}-token text "
          f"{statistics.median(spans):.2f} s (median of {len(spans)}, min "
          f"{min(spans):.2f}); a new {max(new_counts)}-token text "
          f"{statistics.median(news):.2f} s (median of "
          f"{len(news)}, min {min(news):.2f})")


# Rows of the page's first set (fewshot_mistakes) clicked with --user_path,
# in turn: rows 0-7 have 95-100 tokens with their targets (bucket 128), rows
# 14-21 57-60 (bucket 64; rows 8-13 are the sentiment task's eval rows).
USER_ROWS = tuple(r for pair in zip(range(8), range(14, 22)) for r in pair)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--dataset", default=datasets_lib.DEFAULT_DATASETS[0],
                      help="NAME:PATH the page shows first (default: the "
                      "first bundled set)")
  parser.add_argument("--salience_dataset",
                      default=f"summarization:{datasets_lib.BUNDLED_DIR}/"
                      "summarization.yaml",
                      help="NAME:PATH holding a ~128-token example")
  parser.add_argument("--repeats", type=int, default=7)
  parser.add_argument("--user_path", action="store_true",
                      help="the first minutes in Chromium, clicking at once")
  parser.add_argument("--fresh_clone", action="store_true",
                      help="with --user_path: git clone, then `make serve` "
                      "with every cache empty (default: a restart)")
  parser.add_argument("--rows", default=",".join(map(str, USER_ROWS)),
                      help="with --user_path: the rows clicked in turn")
  parser.add_argument("--minutes", type=float, default=3.0,
                      help="with --user_path: keep clicking this long")
  parser.add_argument("--click_every", type=float, default=5.0)
  parser.add_argument("--http_clicks", type=int, default=60)
  parser.add_argument("--unprepared", action="store_true",
                      help="prepare converts only: the server generates the "
                      "data table's responses (as before issue 13)")
  args = parser.parse_args()
  if args.user_path:
    import user_path  # pylint: disable=g-import-not-at-top
    user_path.run(args.fresh_clone, tuple(int(r) for r in args.rows.split(",")),
                  args.minutes, args.click_every, args.http_clicks)
    return

  models = paths.models_dir()
  if not models.is_dir() or not any(models.iterdir()):
    print("converting the embedded model first (once)...", flush=True)
    subprocess.run([sys.executable, "-m", "lit_gemma.serve.prepare"], check=True,
                   cwd=ROOT)
  name = args.dataset.partition(":")[0]
  datasets = f"{args.dataset},{args.salience_dataset}"
  print(f"machine: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start", flush=True)

  with tempfile.TemporaryDirectory(prefix="lit-gemma-bench-") as tmp:
    cache = pathlib.Path(tmp) / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(models, target_is_directory=True)
    _prepare(cache, datasets, args.unprepared)
    for label in ("(a) first start after prepare (JAX cache empty)",
                  "(b) restart (all caches warm)"):
      server = Server(cache, datasets, pathlib.Path(tmp) / "server.log")
      try:
        info = server.seconds_to_info()
        table = server.seconds_to_table(name)
        print(f"{label}: /get_info after {info:.1f} s; data table "
              f"responses ({name}) after {table:.1f} s", flush=True)
        if label.startswith("(b)"):
          print(_measure_salience(
              server, args.salience_dataset.partition(":")[0], args.repeats))
      finally:
        server.stop()
  print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
  main()
