"""The first minutes as a user meets them (`benchmarks/server.py
--user_path`, issue 22): the server started as `make serve` starts it, the
page opened in headless Chromium the moment the URL is printed, and clicks
at once.

Prints, for a restart (every cache warm: one start beforehand filled them)
or, with --fresh_clone, a `git clone` of this repository served by `make
serve` with empty model, compile, response, uv and pip caches:
  - seconds from the start to the printed URL, and to a data table with
    its rows and their generated responses;
  - every click's seconds from the click to drawn salience in the browser,
    with what the server logged for its salience requests: programs
    compiled meanwhile in any thread, background units that ran, seconds
    waited for the engine. First click, a text of another length bucket,
    then one click every --click_every seconds through --minutes;
  - warm salience over HTTP at about 128 tokens on the just-started server
    and again after 60 sequential clicks on different texts, and the first
    click on a text in a bucket no dataset uses (it compiles);
  - the served process's memory (RSS): ready and idle, its peak (VmHWM)
    over the first minutes, and after those 60 clicks.
"""

from __future__ import annotations

import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "tests" / "serve"))

import server as bench  # pylint: disable=g-import-not-at-top,wrong-import-position

SERVING = re.compile(r"serving (http://\S+) ")


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
  for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
    if line.startswith(field + ":"):
      return int(line.split()[1])
  return 0


def _server_pid(port: int) -> int:
  """The launch.py process serving `port` (a child of make)."""
  out = subprocess.run(["pgrep", "-f", f"launch.py.*--port={port}"],
                       capture_output=True, text=True, check=False).stdout
  return int(out.split()[0])


def _wait_for_url(log: pathlib.Path, process, start: float) -> tuple[str, float]:
  while not (found := SERVING.search(log.read_text("utf-8", "replace"))):
    if process.poll() is not None:
      sys.exit(f"the server exited:\n{log.read_text()[-3000:]}")
    time.sleep(0.05)
  return found.group(1), time.monotonic() - start


def _load() -> str:
  return f"load {os.getloadavg()[0]:.1f}"


def _clicks(page, log, rows, targets, minutes: float, every: float,
            url_at: float, between=None) -> list[dict]:
  """First click, another bucket, then one every `every` s until
  `minutes` after the URL (the last word of each row's target, the word
  before it when the rows come round again); `between()` runs after the
  second."""
  import test_first_click as first  # pylint: disable=g-import-not-at-top

  done, n = [], 0
  while True:
    if n == 2 and between is not None:
      between()
    row = rows[n % len(rows)]
    started = time.monotonic() - url_at
    known = len(first.BUCKETS.findall(log.read_text("utf-8", "replace")))
    # Rows clicked again get another word: another span of a kept text.
    chip = -1 - (n // len(rows)) % 2
    (click,) = first.clicks(page, log, targets, (row,), chip)
    click["at"] = started
    done.append(click)
    buckets = first.BUCKETS.findall(log.read_text("utf-8", "replace"))
    # No salience line: LIT answered from its cache (a text clicked before).
    click["bucket"] = buckets[-1] if len(buckets) > known else "cached"
    print(f"  click {n + 1:2d} at {started:6.1f} s on row {row:2d}, word "
          f"{chip} "
          f"(bucket {click['bucket']}): {click['seconds']:.2f} s to drawn "
          f"salience; {click['compiled']:.0f} programs compiled in any thread,"
          f" {click['background']:.0f} background units, waited "
          f"{click['waited']:.2f} s for the engine  [{_load()}]", flush=True)
    n += 1
    if n >= 2 and time.monotonic() - url_at > minutes * 60:
      return done
    if n >= 2:
      time.sleep(max(0.0, every - click["seconds"]))


def _http_clicks(url: str, texts: list[dict], count: int) -> list[float]:
  """Salience of the last target token of `count` different texts over
  HTTP (tokenizer request, then salience), seconds each."""
  seconds = []
  for i in range(count):
    ex = texts[i % len(texts)]
    prompt = f"{i // len(texts)}. {ex['prompt']}" if i >= len(texts) else (
        ex["prompt"])
    tokens = bench._post(url, "/get_preds", {"inputs": [{  # pylint: disable=protected-access
        "id": f"c{i}", "data": {"_id": f"c{i}", "prompt": prompt,
                                "target": ex["target"]},
        "meta": {"added": True}}]}, model="_gemma_tokenizer",
                         dataset_name=ex["dataset"])[0]["tokens"]
    seconds.append(bench._salience_seconds(  # pylint: disable=protected-access
        url, ex["dataset"], prompt, ex["target"], len(tokens),
        len(tokens) - 1))
  return seconds


def _warm_128(url: str, example: dict, tag: str, repeats: int = 5) -> str:
  """Median seconds of salience on new ~128-token texts over HTTP (`tag`
  makes them new: LIT answers a text it saw from its cache)."""
  seconds = _http_clicks(url, [dict(example,
                                    prompt=f"{tag}{i}: {example['prompt']}")
                               for i in range(repeats)], repeats)
  return (f"{statistics.median(seconds):.2f} s (median of {len(seconds)}, "
          f"min {min(seconds):.2f})")


def _examples(datasets: list[str]) -> list[dict]:
  from lit_gemma.lit import datasets as datasets_lib  # pylint: disable=g-import-not-at-top
  found = []
  for entry in datasets:
    name, _, path = entry.partition(":")
    for ex in datasets_lib.load(path).examples:
      if ex.get("target"):
        found.append({"dataset": name, "prompt": ex["prompt"],
                      "target": ex["target"]})
  return found


def run(fresh_clone: bool, rows: tuple[int, ...], minutes: float,
        every: float, http_clicks: int) -> None:
  """Runs the user's path once and prints its table."""
  from lit_gemma import paths  # pylint: disable=g-import-not-at-top
  from lit_gemma.lit import datasets as datasets_lib  # pylint: disable=g-import-not-at-top
  import test_first_click as first  # pylint: disable=g-import-not-at-top
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  tmp = pathlib.Path(tempfile.mkdtemp(prefix="lit-gemma-user-path-"))
  # The served code is the repository's own (the clone's, or this one's).
  env = dict(os.environ, LIT_GEMMA_CACHE=str(tmp / "cache"),
             PYTHONPATH=str(tmp / "clone" if fresh_clone else ROOT))
  port = bench._free_port()  # pylint: disable=protected-access
  args = f"--port={port}"
  label = "fresh clone" if fresh_clone else "restart"
  print(f"{label}: {os.cpu_count()} CPUs, {_load()} at start", flush=True)
  if fresh_clone:
    repo = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)],
                   check=True)
    env |= {"UV_CACHE_DIR": str(tmp / "uv"), "PIP_NO_CACHE_DIR": "1",
            "PIP_CACHE_DIR": str(tmp / "pip")}
    command = ["make", "serve", f"ARGS={args}"]
  else:  # A restart: the caches a first start filled (it exits when ready).
    repo = ROOT
    (tmp / "cache").mkdir()
    for name, target in (("models", paths.models_dir()),
                         ("jax", paths.jax_cache_dir())):
      target.mkdir(parents=True, exist_ok=True)
      (tmp / "cache" / name).symlink_to(target, target_is_directory=True)
    python = sys.executable
    subprocess.run([python, "-m", "lit_gemma.serve.prepare"], env=env,
                   cwd=repo, check=True, capture_output=True)
    subprocess.run([python, "launch.py", "--server_type=prebake"], env=env,
                   cwd=repo, check=True, capture_output=True)
    command = ["bash", "-c", f"{python} -m lit_gemma.serve.prepare {args} "
               f"&& exec {python} launch.py {args}"]
  log = tmp / "serve.log"
  start = time.monotonic()
  with open(log, "w") as out:
    process = subprocess.Popen(command, cwd=repo, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
  try:
    url, to_url = _wait_for_url(log, process, start)
    url_at = time.monotonic()
    pid = _server_pid(port)
    ready_rss = _rss_kib(pid)
    dataset = datasets_lib.DEFAULT_DATASETS[0]
    examples = datasets_lib.load(dataset.partition(":")[2]).examples
    targets = [ex.get("target", "") for ex in examples]
    everything = _examples(list(datasets_lib.DEFAULT_DATASETS))
    # The summarization example nearest 128 tokens (bucket 128).
    long = dict(bench._longest_example(  # pylint: disable=protected-access
        url, "summarization", bench.MAX_EXAMPLE_TOKENS),
                dataset="summarization")
    just_started = []

    def warm_just_started():
      just_started.append(_warm_128(url, long, "a"))
      print(f"  warm salience over HTTP, just started: {just_started[0]}",
            flush=True)

    with sync_playwright() as playwright:
      chromium, page = first.open_page(playwright, url)
      try:
        table, responses = first.seconds_to_table(page, url, len(examples))
        print(f"{label}: URL printed after {to_url:.1f} s; data table "
              f"with {len(examples)} rows {table:.1f} s later, their "
              f"responses {responses:.1f} s later  [{_load()}]", flush=True)
        clicks = _clicks(page, log, rows, targets, minutes, every, url_at,
                         warm_just_started)
      finally:
        chromium.close()
    minutes_rss, peak = _rss_kib(pid), _rss_kib(pid, "VmHWM")
    unseen = dict(long, prompt=(long["prompt"] + "\n\n") * 2)  # ~300 tokens
    before = len(first.request_lines(log))
    (new_bucket,) = _http_clicks(url, [unseen], 1)
    (line,) = first.request_lines(log)[before:]
    print(f"  a text in a bucket no dataset uses (bucket "
          f"{first.BUCKETS.findall(log.read_text('utf-8', 'replace'))[-1]})"
          f": {new_bucket:.2f} s over HTTP, {line['compiled']:.0f} programs "
          f"compiled  [{_load()}]", flush=True)
    seconds = _http_clicks(url, everything, http_clicks)
    after_rss = _rss_kib(pid)
    long_running = _warm_128(url, long, "b")
    slow = [c for c in clicks if c["seconds"] > 2.0]
    print(f"{label}: {len(clicks)} clicks in the browser, median "
          f"{statistics.median(c['seconds'] for c in clicks):.2f} s, max "
          f"{max(c['seconds'] for c in clicks):.2f} s, {len(slow)} over 2 s; "
          f"programs compiled during clicks: "
          f"{sum(c['compiled'] for c in clicks):.0f}; background units "
          f"during clicks: {sum(c['background'] for c in clicks):.0f}")
    print(f"{label}: warm salience over HTTP (new texts of about "
          f"{long['tokens']} tokens): just started {just_started[0]}; after "
          f"{http_clicks} clicks on different texts (median "
          f"{statistics.median(seconds):.2f} s) {long_running}")
    print(f"{label}: served process RSS: {ready_rss / 2**20:.2f} GiB ready "
          f"and idle at the URL, {minutes_rss / 2**20:.2f} GiB after the "
          f"first minutes, peak {peak / 2**20:.2f} GiB over them, "
          f"{after_rss / 2**20:.2f} GiB after {http_clicks} more clicks on "
          f"different texts  [{_load()}]", flush=True)
  finally:
    try:
      os.kill(_server_pid(port), 15)
    except (IndexError, ProcessLookupError):
      pass
    process.wait(timeout=120)
    print(f"server log: {log}")
