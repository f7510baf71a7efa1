"""What the install weighs: setup time, venv size, the model stack's import
time and memory, and the idle memory of a served model.

Each is measured on the Python of a venv (default: this checkout's .venv),
so an older venv (one with TensorFlow) can be measured the same way:

  .venv/bin/python benchmarks/footprint.py                # size + import
  .venv/bin/python benchmarks/footprint.py --serve        # + idle RSS
  .venv/bin/python benchmarks/footprint.py --setup        # + fresh setup
  python3 benchmarks/footprint.py --python OTHER/.venv/bin/python
  python3 benchmarks/footprint.py --setup --repo OTHER_CHECKOUT

--setup copies the checkout's install files (Makefile, pyproject.toml, the
pin files, lit_gemma/) into a temporary folder and times `make setup` there
with empty download caches, as on a fresh machine; --serve starts
`launch.py` as `make serve` does and reads its memory once /get_info
answers and again after --idle_s seconds.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "support")]

from http_helpers import free_port  # pylint: disable=g-import-not-at-top,wrong-import-position
from http_helpers import wait_for_info  # pylint: disable=g-import-not-at-top,wrong-import-position

INSTALL_FILES = ("Makefile", "pyproject.toml", "constraints.txt",
                 "overrides.txt", "README.md", "lit_gemma")
IMPORT = (
    "import resource, sys, time\n"
    "start = time.monotonic()\n"
    "from lit_gemma.models import loading\n"
    "loading.model_stack()\n"
    "import keras_hub\n"
    "seconds = time.monotonic() - start\n"
    "tf = sorted(m for m in ('tensorflow', 'tensorflow_text')"
    " if sys.modules.get(m))\n"
    "print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, tf)\n"
)
GIB = 1 << 30


def folder_bytes(folder: pathlib.Path) -> int:
  done = subprocess.run(["du", "-sb", str(folder)], capture_output=True,
                        text=True, check=True)
  return int(done.stdout.split()[0])


def venv_of(python: str) -> pathlib.Path:
  return pathlib.Path(subprocess.run(
      [python, "-c", "import sys; print(sys.prefix)"], capture_output=True,
      text=True, check=True).stdout.strip())


def import_stack(python: str, runs: int) -> None:
  """Median seconds and peak RSS of importing the model stack in a fresh
  interpreter (one untimed run first warms the file cache)."""
  results = []
  for i in range(runs + 1):
    done = subprocess.run([python, "-c", IMPORT], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    seconds, rss_kib, tf = done.stdout.strip().splitlines()[-1].split(" ", 2)
    if i:
      results.append((float(seconds), int(rss_kib) / (1 << 20)))
  print(f"import of the model stack: "
        f"{statistics.median(r[0] for r in results):.1f} s, "
        f"peak RSS {statistics.median(r[1] for r in results):.2f} GiB "
        f"(median of {runs}); TensorFlow modules imported: {tf}")


def tree_rss(process: psutil.Process) -> int:
  procs = [process] + process.children(recursive=True)
  return sum(p.memory_info().rss for p in procs if p.is_running())


def serve(python: str, idle_s: float) -> None:
  """RSS of `launch.py` (what `make serve` runs) once it answers, and once
  it has sat idle for `idle_s` seconds."""
  port = free_port()
  with tempfile.TemporaryDirectory() as tmp:
    log = pathlib.Path(tmp) / "serve.log"
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
      process = subprocess.Popen(
          [python, "launch.py", f"--port={port}", "--host=127.0.0.1"],
          cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
      wait_for_info(f"http://127.0.0.1:{port}", process, log, seconds=900)
      ready = time.monotonic() - start
      proc = psutil.Process(process.pid)
      print(f"served: /get_info answered after {ready:.0f} s, RSS "
            f"{tree_rss(proc) / GIB:.2f} GiB")
      time.sleep(idle_s)
      print(f"served: idle RSS after {idle_s:.0f} s more: "
            f"{tree_rss(proc) / GIB:.2f} GiB")
    finally:
      process.terminate()
      process.wait(timeout=60)


def setup(repo: pathlib.Path) -> None:
  """Seconds of `make setup` on a copy of `repo`'s install files, with
  empty pip and uv caches."""
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp) / "checkout"
    work.mkdir()
    for name in INSTALL_FILES:
      if (repo / name).is_dir():
        shutil.copytree(repo / name, work / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
      elif (repo / name).exists():
        shutil.copy2(repo / name, work / name)
    env = dict(os.environ, PIP_NO_CACHE_DIR="1",
               UV_CACHE_DIR=str(pathlib.Path(tmp) / "uv-cache"))
    start = time.monotonic()
    subprocess.run(["make", "setup"], cwd=work, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    print(f"fresh `make setup` of {repo}: {seconds:.0f} s, venv "
          f"{folder_bytes(work / '.venv') / GIB:.2f} GiB")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--python", default=str(ROOT / ".venv/bin/python"),
                      help="the venv's Python to measure")
  parser.add_argument("--runs", type=int, default=3,
                      help="timed imports of the model stack")
  parser.add_argument("--serve", action="store_true",
                      help="also measure a served model's idle RSS")
  parser.add_argument("--idle_s", type=float, default=30)
  parser.add_argument("--setup", action="store_true",
                      help="also time a fresh `make setup`")
  parser.add_argument("--repo", type=pathlib.Path, default=ROOT,
                      help="the checkout whose `make setup` is timed")
  args = parser.parse_args()
  venv = venv_of(args.python)
  print(f"venv {venv}: {folder_bytes(venv) / GIB:.2f} GiB")
  import_stack(args.python, args.runs)
  if args.serve:
    serve(args.python, args.idle_s)
  if args.setup:
    setup(args.repo.resolve())


if __name__ == "__main__":
  main()
