"""Builds lit-gemma's wheel and uses it as a new user would, far from any
checkout: in a fresh virtual environment that already holds numpy 2 and
other packages a Colab runtime has, offline apart from the package
registry. tests/test_wheel.py runs it (slow: many minutes, most of them
pip downloading TensorFlow, which keras-hub's metadata requires).

    python scripts/wheel_check.py [--keep DIR] [--python python3.11]

Steps, each timed (a table at the end, with the machine's load):
  build       `uv build --wheel` from a copy of pyproject.toml, README.md
              and lit_gemma/ (no stale build folder can leak in)
  contents    the wheel holds the bundled sets and the fonts, and its
              metadata pins LIT, Keras, keras-hub and JAX
  venv        `python -m venv`, then `pip install numpy==2.0.2 ipykernel
              matplotlib pandas` (what a Colab runtime has)
  quickstart  notebooks/quickstart.ipynb top to bottom in a kernel of that
              venv: its first cell pip-installs the wheel
              ($LIT_GEMMA_INSTALL) and says numpy went back to 1.26; the
              widget's page and /get_info answer
  explain     `lit-gemma explain` on the embedded model, TensorFlow
              (installed by pip) never imported
  serve       `lit-gemma serve`: the page, the bundled sets, the fonts
  templates   notebooks/prompt_templates.ipynb in a fresh kernel (its first
              cell now finds lit-gemma installed)
Exit status 0 when every step passed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "lit_gemma")
COLAB_LIKE = ("numpy==2.0.2", "ipykernel", "matplotlib", "pandas")
PINNED = ("lit-nlp", "keras", "keras-hub", "jax", "jaxlib", "numpy")
KERNEL = "lit-gemma-wheel"
EXPLAIN = ["explain", "--prompt", "Water is made of", "--target",
           " hydrogen and oxygen.", "--span-text", "oxygen", "--methods",
           "grad_l2"]
# Runs `lit-gemma explain` in-process and fails (3) if TensorFlow was
# imported on the way.
_EXPLAIN_NO_TF = (
    "import sys\n"
    "from lit_gemma.cli import main\n"
    "status = main.main(sys.argv[1:])\n"
    "tf = sorted(m for m in sys.modules\n"
    "            if m.split('.')[0] in ('tensorflow', 'tensorflow_text'))\n"
    "print('tensorflow modules imported:', tf)\n"
    "sys.exit(status or (3 if tf else 0))\n")


class Failed(Exception):
  """A step did not do what it should; the message says what."""


def _run(argv, *, env=None, cwd=None, timeout=1800) -> str:
  done = subprocess.run([str(a) for a in argv], env=env, cwd=cwd,
                        capture_output=True, text=True, timeout=timeout)
  if done.returncode:
    raise Failed(f"{' '.join(map(str, argv))[:200]} exited "
                 f"{done.returncode}:\n{done.stdout[-3000:]}\n"
                 f"{done.stderr[-3000:]}")
  return done.stdout


def build(out: pathlib.Path) -> pathlib.Path:
  """The wheel, built from a copy of the package's sources into `out`."""
  src = out / "src"
  for name in SOURCES:
    source = ROOT / name
    if source.is_dir():
      shutil.copytree(source, src / name, ignore=shutil.ignore_patterns(
          "__pycache__", "*.pyc"))
    else:
      src.mkdir(parents=True, exist_ok=True)
      shutil.copy(source, src / name)
  uv = pathlib.Path(sys.executable).parent / "uv"
  _run([uv, "build", "--wheel", "--out-dir", out / "dist", src],
       timeout=600)
  (wheel,) = (out / "dist").glob("lit_gemma-*.whl")
  return wheel


def contents(wheel: pathlib.Path) -> dict:
  """What the wheel holds: {'files': [...], 'requires': [...]}."""
  with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [line.split(":", 1)[1].strip() for line in
                z.read(meta).decode().splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
  return {"files": names, "requires": requires}


def check_contents(wheel: pathlib.Path) -> str:
  found = contents(wheel)
  bundled = sorted(p.name for p in (ROOT / "lit_gemma" / "bundled_sets").iterdir()
                   if p.is_file())
  fonts = sorted(p.name for p in (ROOT / "lit_gemma" / "static" / "fonts").iterdir()
                 if p.is_file())
  missing = ([f"bundled_sets/{n}" for n in bundled
              if f"lit_gemma/bundled_sets/{n}" not in found["files"]]
             + [f"static/fonts/{n}" for n in fonts
                if f"lit_gemma/static/fonts/{n}" not in found["files"]])
  if missing:
    raise Failed(f"the wheel lacks {missing}")
  names = {re.split(r"[<>=!~; ]", r, maxsplit=1)[0].lower(): r
           for r in found["requires"]}
  loose = [p for p in PINNED if p not in names or names[p] == p]
  if loose:
    raise Failed(f"the wheel's metadata leaves {loose} unpinned")
  return (f"{len(bundled)} bundled files, {len(fonts)} font files; "
          + ", ".join(names[p] for p in PINNED))


def _env(cache: pathlib.Path, jupyter: pathlib.Path | None = None) -> dict:
  """The environment of a user's shell: no project paths."""
  env = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
  env["LIT_GEMMA_CACHE"] = str(cache)
  if jupyter is not None:
    env["JUPYTER_PATH"] = str(jupyter / "share" / "jupyter")
  return env


def make_venv(where: pathlib.Path, python: str) -> pathlib.Path:
  _run([python, "-m", "venv", where / "venv"], timeout=300)
  bin_dir = where / "venv" / "bin"
  _run([bin_dir / "pip", "install", "--quiet", *COLAB_LIKE],
       env=_env(where / "cache"))
  _run([bin_dir / "python", "-m", "ipykernel", "install", "--prefix",
        where / "jupyter", "--name", KERNEL], env=_env(where / "cache"))
  return bin_dir


def _get(url: str, body=None, timeout=300) -> tuple[int, str]:
  """(status, text; "" for a binary answer) of a GET, or a POST of JSON."""
  data = None if body is None else json.dumps(body).encode()
  request = urllib.request.Request(
      url, data=data, headers={"Content-Type": "application/json"})
  with urllib.request.urlopen(request, timeout=timeout) as answer:
    return answer.status, answer.read().decode(errors="replace")


def _widget_answers(cell) -> str:
  (page,) = [o["data"]["text/html"] for o in cell.outputs
             if "text/html" in o.get("data", {})]
  src = re.search(r'<iframe[^>]*\ssrc="([^"]+)"', page).group(1)
  status, text = _get(src)
  info = json.loads(_get(src.rstrip("/") + "/get_info", {})[1])
  if status != 200 or "<lit-app" not in text or "gemma" not in info["models"]:
    raise Failed(f"the widget at {src} did not answer as LIT")
  return src


def run_notebook(name: str, where: pathlib.Path, wheel: pathlib.Path) -> str:
  """Runs a notebook in a kernel of the venv, as "run all" does; a kernel
  its first cell restarts is run again from the top, as the cell says."""
  # pylint: disable=g-import-not-at-top  (the driver's own venv has them)
  import nbclient
  import nbformat

  env = _env(where / "cache", where / "jupyter") | {
      "LIT_GEMMA_INSTALL": str(wheel)}
  os.environ["JUPYTER_PATH"] = env["JUPYTER_PATH"]  # Where the kernel is.
  work = where / "work"  # No checkout here: a copy of the notebook only.
  work.mkdir(exist_ok=True)
  shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", work)
  said = []
  for attempt in range(2):
    notebook = nbformat.read(work / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name=KERNEL,
                                     timeout=1800,
                                     resources={"metadata": {"path": str(work)}})
    restarted = False
    with client.setup_kernel(env=env):
      for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
          continue
        try:
          client.execute_cell(cell, index)
        except nbclient.exceptions.DeadKernelError:
          if "setup" not in cell.metadata.get("tags", []) or attempt:
            raise
          restarted = True
          break
        text = "".join(o.get("text", "") for o in cell.outputs
                       if o.get("name") == "stdout")
        if "setup" in cell.metadata.get("tags", []):
          said.append(text.strip())
        if "widget" in cell.metadata.get("tags", []):
          said.append(f"widget answered at {_widget_answers(cell)}")
    if not restarted:
      return " / ".join(said)
    said.append("(kernel restarted by the first cell)")
  raise Failed(f"{name}: the kernel died twice")


def explain(bin_dir: pathlib.Path, where: pathlib.Path) -> str:
  out = _run([bin_dir / "python", "-c", _EXPLAIN_NO_TF, *EXPLAIN],
             env=_env(where / "cache"), cwd=where / "work")
  if "grad_l2 by word for ' oxygen'" not in out:
    raise Failed(f"lit-gemma explain printed:\n{out}")
  return out.strip().splitlines()[-1]


def serve(bin_dir: pathlib.Path, where: pathlib.Path) -> str:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  url = f"http://127.0.0.1:{port}"
  log = open(where / "serve.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
  process = subprocess.Popen(
      [bin_dir / "lit-gemma", "serve", f"--port={port}", "--max_examples=2",
       "--nowarm_up"], env=_env(where / "cache"), cwd=where / "work",
      stdout=log, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + 900
    while True:
      if process.poll() is not None:
        raise Failed(f"lit-gemma serve exited:\n"
                     f"{(where / 'serve.log').read_text()[-3000:]}")
      try:
        info = json.loads(_get(f"{url}/get_info", {})[1])
        break
      except OSError:
        if time.monotonic() > deadline:
          raise Failed("lit-gemma serve did not answer in 900 s") from None
        time.sleep(1)
    page = _get(url + "/")[1]
    font = _get(url + "/lit-gemma-fonts/material-icons.woff2")[0]
    if ("<lit-app" not in page or "fewshot_mistakes" not in info["datasets"]
        or font != 200):
      raise Failed("lit-gemma serve did not serve the page, the bundled "
                   "sets and the fonts")
    return (f"page, {len(info['datasets'])} datasets and fonts ({font}) "
            f"served")
  finally:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    log.close()


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--keep", type=pathlib.Path,
                      help="work in this (new) folder and keep it")
  parser.add_argument("--python", default="python3.11",
                      help="the Python that makes the fresh venv")
  args = parser.parse_args(argv)
  where = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="wheel-check-"))
  where.mkdir(parents=True, exist_ok=True)
  (where / "work").mkdir(exist_ok=True)
  rows, state = [], {}
  steps = [
      ("build", lambda: state.setdefault("wheel", build(where)).name),
      ("contents", lambda: check_contents(state["wheel"])),
      ("venv", lambda: str(state.setdefault(
          "bin", make_venv(where, args.python)).parent)),
      ("quickstart", lambda: run_notebook("quickstart", where,
                                          state["wheel"])),
      ("explain", lambda: explain(state["bin"], where)),
      ("serve", lambda: serve(state["bin"], where)),
      ("templates", lambda: run_notebook("prompt_templates", where,
                                         state["wheel"])),
  ]
  ok = True
  for name, step in steps:
    start = time.monotonic()
    try:
      note, passed = step(), True
    except Exception as e:  # pylint: disable=broad-except
      note, passed = f"{type(e).__name__}: {e}", False
    rows.append((name, "ok" if passed else "FAILED",
                 time.monotonic() - start, note))
    print(f"{name}: {rows[-1][1]} in {rows[-1][2]:.0f} s: {note}", flush=True)
    if not passed:
      ok = False
      break
  print(f"\nwheel check ({os.getloadavg()[0]:.1f} load, "
        f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()})")
  print(f"{'step':<11} {'result':<7} {'seconds':>8}")
  for name, result, seconds, _ in rows:
    print(f"{name:<11} {result:<7} {seconds:>8.0f}")
  if not args.keep:
    shutil.rmtree(where, ignore_errors=True)
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
