"""The alignment loop on the embedded Gemma 3 270M, as a user runs it:
`lit-gemma tune` on the bundled SFT set (the bundled evaluation set held
out), then `lit-gemma regressions` of the tuned folder against the
starting model on the bundled safety probes.

Prints a table: wall time, CPU time and peak memory (the largest resident
set of the command's process) of each command, the tuning steps, the held-out
loss before and after; writes the report (text and HTML) and the
tuned preset into --out (a new temporary folder by default), so the
README can quote the text report. Each command runs in its own process,
with the user's cache (the converted model; the starting model's
responses where a server already generated them). Goal: tuning under 10
minutes on 2 cores.

  .venv/bin/python benchmarks/alignment_loop.py [--out DIR] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUNDLED = pathlib.Path("lit_gemma", "bundled_sets")  # from ROOT, as a user


# Runs `python -m lit_gemma ARGS` in this child, then writes the child's
# own peak resident set (KiB) as the last line of stderr.
_CHILD = """
import resource, runpy, sys
sys.argv = ["lit-gemma"] + sys.argv[1:]
try:
  runpy.run_module("lit_gemma", run_name="__main__")
except SystemExit as e:
  code = e.code
else:
  code = 0
usage = resource.getrusage(resource.RUSAGE_SELF)
sys.stderr.write(f"\\npeak_kib {usage.ru_maxrss} "
                 f"cpu_s {usage.ru_utime + usage.ru_stime:.1f}\\n")
sys.exit(code)
"""


def _run(argv, env, log: pathlib.Path) -> tuple[float, float, float, int]:
  """(seconds, peak GiB and CPU seconds of the command's process, exit
  status)."""
  start = time.monotonic()
  with open(log, "w") as err:
    done = subprocess.run([sys.executable, "-c", _CHILD, *argv], env=env,
                          stderr=err, stdout=subprocess.PIPE, text=True,
                          check=False, cwd=ROOT)
  seconds = time.monotonic() - start
  last = log.read_text().strip().splitlines()[-1].split()
  peak, cpu = 0.0, 0.0
  if last[:1] == ["peak_kib"]:
    peak, cpu = int(last[1]) / 2**20, float(last[3])
  if done.stdout:
    print(done.stdout.strip(), flush=True)
  return seconds, peak, cpu, done.returncode


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--out", help="folder for the reports and the tuned "
                      "preset (default: a new temporary folder, kept)")
  parser.add_argument("--epochs", type=int, default=2)
  parser.add_argument("--learning-rate", default="1e-3")
  parser.add_argument("--rank", type=int, default=8)
  args = parser.parse_args()
  out = pathlib.Path(args.out or tempfile.mkdtemp(prefix="alignment_"))
  out = out.resolve()
  out.mkdir(parents=True, exist_ok=True)
  tuned = out / "tuned"
  if tuned.exists():
    shutil.rmtree(tuned)
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  load = os.getloadavg()
  print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} cores", flush=True)
  tune_s, tune_peak, tune_cpu, status = _run(
      ["tune", "--model", "embedded",
       "--dataset", str(BUNDLED / "tuning_sft.jsonl"),
       "--eval_set", str(BUNDLED / "tuning_eval.jsonl"),
       "--allow_contamination", "--out", str(tuned),
       "--epochs", str(args.epochs), "--learning-rate", args.learning_rate,
       "--rank", str(args.rank)], env, out / "tune.log")
  if status:
    print((out / "tune.log").read_text()[-2000:])
    return status
  summary = json.loads((tuned / "lit_gemma_tuning.json").read_text())
  reports = {}
  for fmt in ("text", "html"):
    report = out / f"regressions.{'txt' if fmt == 'text' else fmt}"
    seconds, peak, cpu, status = _run(
        ["regressions", "--before", "embedded", "--after", str(tuned),
         "--dataset", str(BUNDLED / "safety_probes.jsonl"),
         "--format", fmt, "--out", str(report)], env,
        out / f"regressions-{fmt}.log")
    if status:
      print((out / f"regressions-{fmt}.log").read_text()[-2000:])
      return status
    reports[fmt] = (seconds, peak, cpu)
  load = os.getloadavg()
  rows = [
      ("tune: wall time", f"{tune_s:.0f} s ({tune_cpu:.0f} CPU s)"),
      ("tune: training steps alone", f"{summary['seconds']:.0f} s, "
       f"{summary['steps']} steps of {summary['settings']['batch_size']}"),
      ("tune: peak memory (process)", f"{tune_peak:.2f} GiB"),
      ("tune: held-out loss (tuning_eval.jsonl)",
       f"{summary['held_out_before']['loss']:.3f} -> "
       f"{summary['held_out_after']['loss']:.3f} on {summary['held_out']} "
       "rows"),
      ("regressions (text): wall time",
       f"{reports['text'][0]:.0f} s ({reports['text'][2]:.0f} CPU s)"),
      ("regressions (html; responses cached)",
       f"{reports['html'][0]:.0f} s ({reports['html'][2]:.0f} CPU s)"),
      ("regressions: peak memory (process)",
       f"{max(r[1] for r in reports.values()):.2f} GiB"),
  ]
  width = max(len(k) for k, _ in rows)
  print()
  for key, value in rows:
    print(f"{key.ljust(width)}  {value}")
  print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
  print(f"reports and tuned preset in {out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
