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

With --browser (issue 13), instead: the server over --dataset (the
page's first set, fewshot_mistakes, by default), driven in headless
Chromium: seconds from opening the
page to a data table with every response filled in (first visit after
`make prepare`, its time printed first; --unprepared: an empty response
cache), then, once the log says the warm-up is done, seconds from
a click on a target word to drawn salience for two examples in different
length buckets, and the programs the server compiled for each (goal: 2 s,
0 programs).

  python benchmarks/server.py [--dataset NAME:PATH] [--repeats 7]
  python benchmarks/server.py --browser [--fresh_jax_cache]

Runs on a private cache root; only the converted model (and with --browser
the compile cache) is linked from the user's cache (converted first if
missing); prepare writes the responses there.
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

  def wait_for_warm_up(self, timeout: float = 1800) -> None:
    """Waits for the background warm-up (it holds the salience engine)."""
    deadline = time.monotonic() + timeout
    while "warm-up done" not in self.log.read_text(errors="replace"):
      if time.monotonic() > deadline:
        sys.exit("the warm-up did not finish")
      time.sleep(0.5)

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
  server.wait_for_warm_up()
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


# Rows of --dataset clicked in --browser; in fewshot_mistakes
# about 101 and 60 tokens with their targets (buckets 128 and 64): the
# first sentiment row and the first units row (after the 14 sentiment
# datapoints, eval rows included).
BROWSER_ROWS = (0, 14)


def _browser(models: pathlib.Path, dataset: str, fresh_jax_cache: bool,
             rows: tuple[int, ...], max_examples: int | None,
             unprepared: bool) -> None:
  """First visit and first clicks in Chromium (see the module's doc)."""
  sys.path.insert(0, str(ROOT / "tests" / "support"))
  import test_first_click as clicks  # pylint: disable=g-import-not-at-top
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  examples = datasets_lib.load(dataset.partition(":")[2]).examples
  examples = examples[:max_examples] if max_examples else examples
  flags = [f"--max_examples={max_examples}"] if max_examples else []
  with tempfile.TemporaryDirectory(prefix="lit-gemma-bench-") as tmp:
    cache = pathlib.Path(tmp) / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(models, target_is_directory=True)
    if not fresh_jax_cache:
      paths.jax_cache_dir().mkdir(parents=True, exist_ok=True)
      (cache / "jax").symlink_to(paths.jax_cache_dir(),
                                 target_is_directory=True)
    log = pathlib.Path(tmp) / "server.log"
    print(f"machine: {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start", flush=True)
    _prepare(cache, dataset, unprepared, *flags)
    server = Server(cache, dataset, log, *flags)
    try:
      info = server.seconds_to_info()
      with sync_playwright() as playwright:
        chromium, page = clicks.open_page(playwright, server.url)
        try:
          opened = time.monotonic() - server.start
          table, responses = clicks.seconds_to_table(page, server.url,
                                                     len(examples))
          print(f"first visit (JAX cache "
                f"{'empty' if fresh_jax_cache else 'the user s'}, response "
                f"cache {'empty' if unprepared else 'prepared'}): /get_info "
                f"after {info:.1f} s; page opened at "
                f"{opened:.1f} s; data table with {len(examples)} rows "
                f"{table:.1f} s later, generated responses {responses:.1f} s "
                f"later", flush=True)
          buckets, seconds = clicks.wait_for_warm_up(log)
          print(f"warm-up done: {buckets} buckets in {seconds:.1f} s "
                f"({time.monotonic() - server.start:.1f} s after start)",
                flush=True)
          targets = [ex["target"] for ex in examples]
          for click in clicks.first_clicks(page, log, targets, rows):
            print(f"first click on row {click['row']}: "
                  f"{click['seconds']:.2f} s from click to drawn salience; "
                  f"{click['compiled']} programs compiled (server: "
                  f"{', '.join(f'{s:.2f} s' for s, _ in click['requests'])})",
                  flush=True)
        finally:
          chromium.close()
    finally:
      server.stop()
      print(f"load average at end {os.getloadavg()[0]:.1f}")


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
  parser.add_argument("--browser", action="store_true",
                      help="first visit and first clicks in Chromium")
  parser.add_argument("--fresh_jax_cache", action="store_true",
                      help="with --browser: an empty JAX compilation cache "
                      "(default: the user's)")
  parser.add_argument("--rows", default=",".join(map(str, BROWSER_ROWS)),
                      help="with --browser: the rows clicked (comma-separated;"
                      " default: two length buckets of fewshot_mistakes)")
  parser.add_argument("--max_examples", type=int,
                      help="with --browser: serve only this many examples")
  parser.add_argument("--unprepared", action="store_true",
                      help="prepare converts only: the server generates the "
                      "data table's responses (as before issue 13)")
  args = parser.parse_args()

  models = paths.models_dir()
  if not models.is_dir() or not any(models.iterdir()):
    print("converting the embedded model first (once)...", flush=True)
    subprocess.run([sys.executable, "-m", "lit_gemma.serve.prepare"], check=True,
                   cwd=ROOT)
  if args.browser:
    _browser(models, args.dataset, args.fresh_jax_cache,
             tuple(int(r) for r in args.rows.split(",")), args.max_examples,
             args.unprepared)
    return
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
