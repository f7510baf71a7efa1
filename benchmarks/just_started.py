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


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--clicks", type=int, default=40)
  args = parser.parse_args()
  port = bench._free_port()  # pylint: disable=protected-access
  log = pathlib.Path(tempfile.mkdtemp(prefix="lit-gemma-started-")) / "log"
  with open(log, "w") as out:
    process = subprocess.Popen(
        [sys.executable, "launch.py", f"--port={port}"], cwd=ROOT,
        stdout=out, stderr=subprocess.STDOUT)
  try:
    start = time.monotonic()
    while "serving http" not in log.read_text("utf-8", "replace"):
      if process.poll() is not None:
        sys.exit(f"the server exited:\n{log.read_text()[-3000:]}")
      time.sleep(0.2)
    url = f"http://127.0.0.1:{port}"
    print(f"URL after {time.monotonic() - start:.1f} s; load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    text = dict(bench._longest_example(  # pylint: disable=protected-access
        url, "summarization", bench.MAX_EXAMPLE_TOKENS),
                dataset="summarization")
    print(f"just started: {user_path._warm_128(url, text, 'a')}", flush=True)  # pylint: disable=protected-access
    print(f"again: {user_path._warm_128(url, text, 'b')}", flush=True)  # pylint: disable=protected-access
    seconds = user_path._http_clicks(  # pylint: disable=protected-access
        url, user_path._examples(list(datasets_lib.DEFAULT_DATASETS)),  # pylint: disable=protected-access
        args.clicks)
    print(f"{args.clicks} clicks on different texts: median "
          f"{statistics.median(seconds):.2f} s", flush=True)
    print(f"long-running: {user_path._warm_128(url, text, 'c')}; load "  # pylint: disable=protected-access
          f"{os.getloadavg()[0]:.1f}", flush=True)
  finally:
    process.terminate()
    process.wait(timeout=120)


if __name__ == "__main__":
  main()
