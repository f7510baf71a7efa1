"""Peak memory of the served container: what deploy.sh's --memory is sized from.

Runs the Cloud Run image's `prepare` step and its exact gunicorn command
(read from deploy/cloudrun/Dockerfile and run outside Docker, see
tests/support/container.py) with an empty compile cache, as a new instance starts;
the prepare step generates the bundled sets' responses, as the image build
does (--unprepared: it only converts, and the server generates them);
waits for /health 200; then asks what a busy team would: the data table's
responses for every bundled set, and salience on texts up to --max_length
tokens, fresh texts and span changes, 8 requests at once. Prints the peak
RSS of the gunicorn master and worker (their VmHWM), the peak of their sum
(sampled every 0.1 s), and the size of the files the server wrote (Cloud
Run's file system is in memory, so they count too).

  .venv/bin/python benchmarks/served_memory.py
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import shutil
import sys
import tempfile
import threading
import time

import psutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

import container  # pylint: disable=g-import-not-at-top,wrong-import-position
from http_helpers import new_input  # pylint: disable=g-import-not-at-top,wrong-import-position
from http_helpers import ok  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.lit import datasets as datasets_lib  # pylint: disable=g-import-not-at-top,wrong-import-position

SENTENCE = ("The committee reviewed the proposal, asked for two changes and "
            "agreed to meet again next week. ")


class _RssSampler:
  """The largest summed RSS of a process and its children, sampled."""

  def __init__(self, pid: int, every: float = 0.1):
    self._process = psutil.Process(pid)
    self._every = every
    self.peak = 0
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._thread.start()

  def _run(self):
    while not self._stop.is_set():
      try:
        tree = [self._process, *self._process.children(recursive=True)]
        self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
      except psutil.Error:
        pass
      time.sleep(self._every)

  def stop(self):
    self._stop.set()
    self._thread.join()


def _high_water_marks(pid: int) -> dict[int, int]:
  """pid -> VmHWM bytes for the process and its children (Linux)."""
  marks = {}
  process = psutil.Process(pid)
  for p in [process, *process.children(recursive=True)]:
    for line in pathlib.Path(f"/proc/{p.pid}/status").read_text().splitlines():
      if line.startswith("VmHWM:"):
        marks[p.pid] = int(line.split()[1]) * 1024
  return marks


def _salience_inputs(count: int, sizes: list[int]) -> list[dict]:
  """`count` different prompt + target pairs of about each size in words."""
  inputs = []
  for i in range(count):
    words = sizes[i % len(sizes)]
    body = (SENTENCE * (words // len(SENTENCE.split()) + 1)).split()[:words]
    inputs.append({"prompt": f"Minutes {i}: " + " ".join(body) + "\nSummary:",
                   "target": f" Meeting {i} asked for two changes."})
  return inputs


# Past Cloud Run's request timeout (deploy.sh --timeout=300) a click fails
# there; here it is waited for and counted.
CLIENT_TIMEOUT_S = 1800
SLOW_S = 300


def _click(url: str, example: dict, dataset: str) -> float:
  """A fresh salience request, then a span change on the same text; the
  slower one's seconds (queue included)."""
  start = time.monotonic()
  ok(url, "/get_preds", {"inputs": [new_input(example)]},
     model="_gemma_salience", dataset_name=dataset, timeout=CLIENT_TIMEOUT_S)
  fresh = time.monotonic() - start
  tokens = ok(url, "/get_preds", {"inputs": [new_input(example)]},
              model="_gemma_tokenizer", dataset_name=dataset)[0]["tokens"]
  mask = [0] * len(tokens)
  mask[-2] = 1
  start = time.monotonic()
  ok(url, "/get_preds", {"inputs": [new_input(example | {"target_mask": mask})]},
     model="_gemma_salience", dataset_name=dataset, timeout=CLIENT_TIMEOUT_S)
  return max(fresh, time.monotonic() - start)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--concurrent", type=int, default=8)
  parser.add_argument("--texts", type=int, default=16,
                      help="different salience texts (sizes up to ~1000 "
                           "tokens)")
  parser.add_argument("--unprepared", action="store_true",
                      help="the prepare step generates no responses (the "
                      "server generates the data table's)")
  parser.add_argument("--lit_flags", default="",
                      help="lit-gemma flags after the image's "
                      "$LIT_GEMMA_FLAGS (e.g. --salience_cache_mb=512)")
  args = parser.parse_args()
  tmp = pathlib.Path(tempfile.mkdtemp(prefix="lit-gemma-served-"))
  start = time.monotonic()
  image = container.ServedImage(tmp, share_compiled=False,
                                 responses=not args.unprepared,
                                 more_flags=args.lit_flags)
  ready_s = time.monotonic() - start
  sampler = _RssSampler(image.process.pid)
  phases = {}  # The peak of each phase: what dominates.
  try:
    url = image.url
    timings = {}
    time.sleep(1)
    phases["idle after /health 200"] = sampler.peak
    t0 = time.monotonic()
    for name in datasets_lib.BUNDLED_FILES:
      ids = [ex["id"] for ex in ok(url, "/get_dataset", {}, dataset_name=name)]
      ok(url, "/get_preds", {"inputs": ids}, model="gemma",
         dataset_name=name, requested_types="GeneratedText")
    timings["data table responses"] = time.monotonic() - t0
    phases["data table responses"], sampler.peak = sampler.peak, 0
    dataset = next(iter(datasets_lib.BUNDLED_FILES))
    inputs = _salience_inputs(args.texts, [60, 200, 400, 700])
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.concurrent) as pool:
      clicks = list(pool.map(lambda ex: _click(url, ex, dataset), inputs))
    timings["salience clicks"] = time.monotonic() - t0
    phases["salience clicks"] = sampler.peak
    marks = _high_water_marks(image.process.pid)
  finally:
    sampler.stop()
    image.close()
  written = sum(f.stat().st_size for f in image.cache.rglob("*")
                if f.is_file() and not f.is_symlink())
  shutil.rmtree(tmp, ignore_errors=True)
  gib = 1 << 30
  if image.prepared.returncode:
    sys.exit(f"prepare failed:\n{image.prepared.stderr[-2000:]}")
  print(f"prepare step: {image.prepare_s:.0f} s "
        f"({'convert only' if args.unprepared else 'responses generated'})")
  print(f"health 200 after {ready_s - image.prepare_s:.0f} s of serving "
        f"(fresh compile cache)")
  for what, seconds in timings.items():
    print(f"{what}: {seconds:.0f} s")
  print(f"slowest salience request (queue included): {max(clicks):.0f} s; "
        f"{sum(c > SLOW_S for c in clicks)} of {len(clicks)} texts had one "
        f"over {SLOW_S} s")
  for pid, mark in marks.items():
    role = "master" if pid == image.process.pid else "worker"
    print(f"peak RSS {role} (pid {pid}): {mark / gib:.2f} GiB")
  for what, peak in phases.items():
    print(f"peak RSS, all processes, {what} (sampled): {peak / gib:.2f} GiB")
  peak = max(phases.values())
  print(f"peak RSS, all processes (sampled): {peak / gib:.2f} GiB")
  print(f"files written under $LIT_GEMMA_CACHE: {written / gib:.3f} GiB")
  print(f"peak + written: {(peak + written) / gib:.2f} GiB")


if __name__ == "__main__":
  main()
