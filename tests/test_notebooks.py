"""The notebooks in notebooks/ run top to bottom, as a user runs them: one
Jupyter kernel of the project's venv executes them cell by cell, with the
real embedded model. While the kernel runs, the test loads the widget's
iframe address itself, so a UI that renders but does not answer fails.

Also checked without a kernel: the committed notebooks carry no outputs,
every address of the source repository they (and the README's Colab
badge) hold is the one in pyproject.toml, and their shared first cell
installs lit-gemma where it is missing and restarts a runtime that had an
older numpy loaded (tests/test_wheel.py runs it for real, from a wheel).
"""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import tomllib
import types

import nbclient
import nbformat
import pytest

from http_helpers import ok
from http_helpers import request
from widget_pages import iframe_src
from widget_pages import refused

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("quickstart", "prompt_templates")
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())[
    "project"]["urls"]["Repository"]
# owner/name (maybe with .git) in a GitHub or Colab-from-GitHub address.
_GITHUB_REPO = re.compile(
    r"(?:https://github\.com|colab\.research\.google\.com/github)/"
    r"([\w.-]+/[\w.-]+)")
_COLAB_BADGE = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/"
    r"colab-badge\.svg\)\]\((https://colab\.research\.google\.com/github/"
    r"[^)]+)\)")
_FIGURE_TYPES = ("image/png", "text/html")
_KERNEL_CHECK = ("import os, sys\n"
                 "print(sys.executable)\n"
                 "print(os.environ.get('LIT_GEMMA_CACHE'))")


def _read(name: str):
  return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _repositories(text: str) -> list[str]:
  """The owner/name of every GitHub repository address in `text`."""
  return [r.removesuffix(".git") for r in _GITHUB_REPO.findall(text)]


def _tagged(cell, tag: str) -> bool:
  return tag in cell.metadata.get("tags", [])


def _setup(name: str):
  """A notebook's first code cell, the one that installs lit-gemma."""
  cell = next(c for c in _read(name).cells if c.cell_type == "code")
  assert _tagged(cell, "setup"), name
  return cell


def _rich(cell) -> list[dict]:
  """The data of a cell's display and result outputs."""
  return [o.data for o in cell.outputs
          if o.output_type in ("display_data", "execute_result")]


# ------------------------------------------------------- without a kernel


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_valid_and_has_no_outputs(name):
  notebook = _read(name)
  nbformat.validate(notebook)
  code = [c for c in notebook.cells if c.cell_type == "code"]
  assert code
  for cell in code:
    assert cell.outputs == [] and cell.execution_count is None, cell.source


def test_repository_addresses_are_pyprojects():
  """The Colab install cell and the badges must point at the repository
  pyproject names (it is written once there; here it is checked)."""
  owner_repo = REPOSITORY.removeprefix("https://github.com/")
  assert owner_repo != REPOSITORY and owner_repo.count("/") == 1
  found = []
  for name in NAMES:
    for cell in _read(name).cells:
      found += [(name, a) for a in _repositories(cell.source)]
  readme = (ROOT / "README.md").read_text()
  badges = _COLAB_BADGE.findall(readme)
  assert badges, "README has no Open in Colab badge"
  for link in badges:
    found += [("README", a) for a in _repositories(link)]
    notebook = link.split("/blob/main/", 1)[1]
    assert (ROOT / notebook).is_file(), link
  assert {where for where, _ in found} >= {*NAMES, "README"}
  assert [f for f in found if f[1] != owner_repo] == []
  setups = [_setup(name).source for name in NAMES]
  assert f'REPOSITORY = "{REPOSITORY}"' in setups[0]
  assert len(set(setups)) == 1, "the notebooks' setup cells differ"


class _Dist:
  """An installed distribution, maybe shown at another version."""

  def __init__(self, dist, version=None):
    self._dist = dist
    self.metadata = {"Name": dist.metadata["Name"]}
    self.version = version or dist.version
    self.files = dist.files

  def read_text(self, name):
    return self._dist.read_text(name)


def test_setup_installs_restarts_once_then_does_nothing(monkeypatch, capsys):
  """The first cell as a runtime with numpy 2 loaded runs it (Colab's),
  twice: pip and the kernel's death are recorded stand-ins; the cell's
  own logic runs as written."""
  import numpy  # pylint: disable=g-import-not-at-top,unused-import  (loaded, as in Colab)

  setup = _setup("quickstart")
  commands, kills = [], []
  real = [_Dist(d) for d in importlib.metadata.distributions()]
  colab = [_Dist(d._dist, "2.0.2") if d.metadata["Name"] == "numpy" else d  # pylint: disable=protected-access
           for d in real if d.metadata["Name"] != "lit-gemma"]
  states = [colab, real]
  monkeypatch.setattr(importlib.metadata, "distributions",
                      lambda: states.pop(0) if len(states) > 1 else real)
  monkeypatch.setattr(subprocess, "run",
                      lambda args, **kw: commands.append(args))
  monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
  monkeypatch.delenv("LIT_GEMMA_INSTALL", raising=False)
  exec(setup.source, {})  # pylint: disable=exec-used
  first = capsys.readouterr().out
  assert commands == [[sys.executable, "-m", "pip", "install", "--quiet",
                       f"lit-gemma @ git+{REPOSITORY}"]]
  assert kills == [(os.getpid(), 9)]  # numpy is loaded in this process.
  assert "numpy 2.0.2 -> 1." in first and "(LIT needs numpy<2)" in first
  assert "restarts once now" in first and "run all cells again" in first

  # After the restart: installed, numpy 1 loaded (this venv's): nothing to do.
  commands.clear()
  kills.clear()
  exec(setup.source, {})  # pylint: disable=exec-used
  second = capsys.readouterr().out
  assert (commands, kills) == ([], [])
  assert second.startswith("lit-gemma ") and "nothing to install" in second

  # A wheel named by $LIT_GEMMA_INSTALL is what pip installs.
  states[:] = [colab, real]
  monkeypatch.setenv("LIT_GEMMA_INSTALL", "/wheels/lit_gemma.whl")
  exec(setup.source, {})  # pylint: disable=exec-used
  assert commands[0][-1] == "/wheels/lit_gemma.whl"


# ---------------------------------------------------------- in a kernel


def _probe_widget(cell) -> int:
  """Loads the rendered iframe's address: the page and /get_info."""
  (html,) = [d["text/html"] for d in _rich(cell) if "text/html" in d]
  src = iframe_src(html)
  status, page = request(src, "")
  assert status == 200 and "<lit-app" in page
  info = ok(src.rstrip("/"), "/get_info", {})
  assert "gemma" in info["models"] and info["datasets"]
  return int(src.rsplit(":", 1)[1].strip("/"))


@pytest.mark.real_model
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name):
  notebook = _read(name)
  notebook.cells.insert(0, nbformat.v4.new_code_cell(_KERNEL_CHECK))
  client = nbclient.NotebookClient(
      notebook, kernel_name="python3", timeout=600,
      resources={"metadata": {"path": str(NOTEBOOKS)}})
  widget_port = None
  with client.setup_kernel(env=dict(os.environ)):
    for index, cell in enumerate(notebook.cells):
      if cell.cell_type != "code":
        continue
      client.execute_cell(cell, index)  # CellExecutionError on an error.
      assert not [o for o in cell.outputs if o.output_type == "error"]
      if _tagged(cell, "widget"):
        widget_port = _probe_widget(cell)
      if _tagged(cell, "stop"):
        assert refused(widget_port)
      if _tagged(cell, "figure"):
        assert any(t in d for d in _rich(cell) for t in _FIGURE_TYPES), (
            f"cell {index} showed no figure: {_rich(cell)}")
      if _tagged(cell, "setup"):
        assert cell.outputs[0].text.endswith(": nothing to install.\n")
  if name == "quickstart":
    assert widget_port is not None, "the quickstart rendered no widget"
  executable, cache = notebook.cells[0].outputs[0].text.splitlines()
  assert executable == sys.executable
  assert cache == str(os.environ.get("LIT_GEMMA_CACHE"))
  assert any(_tagged(c, "figure") for c in notebook.cells)
