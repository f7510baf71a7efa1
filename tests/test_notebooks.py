"""The notebooks in notebooks/ run top to bottom, as a user runs them: one
Jupyter kernel of the project's venv executes them cell by cell, with the
real embedded model. While the kernel runs, the test loads the widget's
iframe address itself, so a UI that renders but does not answer fails.

Also checked without a kernel: the committed notebooks carry no outputs,
and every address of the source repository they (and the README's Colab
badge) hold is the one in pyproject.toml.
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
  assert {where for where, _ in found} >= {"quickstart", "README"}
  assert [f for f in found if f[1] != owner_repo] == []
  setup = next(c for c in _read("quickstart").cells
               if _tagged(c, "colab-setup"))
  assert f'REPOSITORY = "{REPOSITORY}"' in setup.source


def test_colab_setup_installs_restarts_once_then_does_nothing(monkeypatch,
                                                              capsys):
  """The quickstart's first cell as Colab runs it, twice: Colab (its module),
  git, pip and the kernel's death are recorded stand-ins; the cell's own
  logic runs as written."""
  setup = next(c for c in _read("quickstart").cells
               if _tagged(c, "colab-setup"))
  monkeypatch.setitem(sys.modules, "google.colab",
                      types.ModuleType("google.colab"))
  commands, kills = [], []
  monkeypatch.setattr(subprocess, "run",
                      lambda args, **kw: commands.append(args))
  monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
  real_version = importlib.metadata.version

  def version_before_install(package):
    if package == "lit-gemma":
      raise importlib.metadata.PackageNotFoundError(package)
    return real_version(package)

  monkeypatch.setattr(importlib.metadata, "version", version_before_install)
  exec(setup.source, {})  # pylint: disable=exec-used
  first = capsys.readouterr().out
  assert commands[0][:2] == ["git", "clone"] and REPOSITORY in commands[0]
  assert commands[1][1:5] == ["-m", "pip", "install", "--quiet"]
  assert kills == [(os.getpid(), 9)]
  assert "Restarting the runtime once" in first and "numpy<2" in first

  # After the restart: installed, numpy 1 loaded (this venv's): nothing to do.
  monkeypatch.setattr(importlib.metadata, "version", real_version)
  commands.clear()
  kills.clear()
  exec(setup.source, {})  # pylint: disable=exec-used
  second = capsys.readouterr().out
  assert (commands, kills) == ([], [])
  assert second.startswith("lit-gemma ") and "numpy 1." in second


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
      if _tagged(cell, "colab-setup"):
        assert cell.outputs[0].text.startswith("Not in Colab: nothing to "
                                               "install")
  if name == "quickstart":
    assert widget_port is not None, "the quickstart rendered no widget"
  executable, cache = notebook.cells[0].outputs[0].text.splitlines()
  assert executable == sys.executable
  assert cache == str(os.environ.get("LIT_GEMMA_CACHE"))
  assert any(_tagged(c, "figure") for c in notebook.cells)
