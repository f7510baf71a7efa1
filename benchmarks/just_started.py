"""Is a just-started server slower than a long-running one? Warm salience
over HTTP on new ~128-token texts, measured alike at both ends.

  python benchmarks/just_started.py [--clicks 40]

Starts `launch.py` (default settings, the user's cache: run `make serve`
once first), and the moment it prints its URL times 5 new texts of the
bundled summarization example nearest 128 tokens (the median), again 5,
then `--clicks` salience requests on different bundled texts, then 5 new
texts once more. No browser is open, so nothing but the server runs
(`benchmarks/server.py --user_path` takes its "just started" figure with
the page open in Chromium, two clicks after the URL).
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

import server as bench  # noqa: E402  pylint: disable=wrong-import-position
import user_path  # noqa: E402  pylint: disable=wrong-import-position
from lit_gemma.lit import datasets as datasets_lib  # noqa: E402  pylint: disable=wrong-import-position

# The user-path benchmark's own steps, so both measure alike.
# pylint: disable=protected-access
free_port, longest_example = bench._free_port, bench._longest_example
wait_for_url, warm_128 = user_path._wait_for_url, user_path._warm_128
http_clicks, bundled_texts = user_path._http_clicks, user_path._examples
# pylint: enable=protected-access


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--clicks", type=int, default=40)
  args = parser.parse_args()
  log = pathlib.Path(tempfile.mkdtemp(prefix="lit-gemma-started-")) / "log"
  start = time.monotonic()
  with open(log, "w") as out:
    process = subprocess.Popen(
        [sys.executable, "launch.py", f"--port={free_port()}"], cwd=ROOT,
        stdout=out, stderr=subprocess.STDOUT)
  try:
    url, to_url = wait_for_url(log, process, start)
    print(f"URL after {to_url:.1f} s; load {os.getloadavg()[0]:.1f}",
          flush=True)
    text = dict(longest_example(url, "summarization",
                                bench.MAX_EXAMPLE_TOKENS),
                dataset="summarization")
    print(f"just started: {warm_128(url, text, 'a')}", flush=True)
    print(f"again: {warm_128(url, text, 'b')}", flush=True)
    seconds = http_clicks(
        url, bundled_texts(list(datasets_lib.DEFAULT_DATASETS)), args.clicks)
    print(f"{args.clicks} clicks on different texts: median "
          f"{statistics.median(seconds):.2f} s", flush=True)
    print(f"long-running: {warm_128(url, text, 'c')}; load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
  finally:
    process.terminate()
    process.wait(timeout=120)


if __name__ == "__main__":
  main()
