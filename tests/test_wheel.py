"""lit-gemma as a package: the wheel carries what the server reads (the
bundled sets, the fonts) and pins the versions the overrides are written
for, agreeing with constraints.txt; and (slow) the wheel installed with
plain pip in a fresh venv that already has numpy 2 runs `lit-gemma
explain`, `lit-gemma serve` and both notebooks, with no checkout beside
it (scripts/wheel_check.py)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
from packaging import requirements

import repo
from lit_gemma.lit import internals
from lit_gemma.models import keras_init

sys.path.insert(0, str(repo.ROOT / "scripts"))
import wheel_check  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

PYPROJECT = tomllib.loads((repo.ROOT / "pyproject.toml").read_text())


def _pins() -> dict[str, requirements.Requirement]:
  found = [requirements.Requirement(r)
           for r in PYPROJECT["project"]["dependencies"]]
  return {r.name.lower(): r for r in found}


def _constraints() -> dict[str, str]:
  lines = (repo.ROOT / "constraints.txt").read_text().splitlines()
  return {name.lower(): version for name, _, version in
          (l.partition("==") for l in lines if "==" in l)}


def test_pins_hold_the_versions_the_overrides_are_written_for():
  pins, constraints = _pins(), _constraints()
  for name in wheel_check.PINNED:
    assert pins[name].specifier, f"{name} is not pinned in pyproject.toml"
  written_for = internals.VERSIONS | keras_init.VERSIONS
  for name, version in written_for.items():
    assert pins[name].specifier.contains(version), (name, version)
  for name, pin in pins.items():
    if name in constraints:  # What `make` installs satisfies the wheel's pins.
      assert pin.specifier.contains(constraints[name]), (
          name, str(pin.specifier), constraints[name])


def test_wheel_carries_the_bundled_sets_and_fonts(tmp_path):
  wheel = wheel_check.build(tmp_path)
  summary = wheel_check.check_contents(wheel)
  assert "lit-nlp==1.3.1" in summary
  files = wheel_check.contents(wheel)["files"]
  assert not [f for f in files if f.startswith(("tests/", "notebooks/"))]
  assert "lit_gemma/findings/store.py" in files


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv_with_numpy_2():
  """Many minutes (pip downloads TensorFlow for keras-hub's metadata)."""
  done = subprocess.run([sys.executable, str(repo.ROOT / "scripts" /
                                             "wheel_check.py")],
                        capture_output=True, text=True, timeout=5400,
                        cwd=repo.ROOT.parent)
  assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
  for step in ("build", "contents", "venv", "quickstart", "explain", "serve",
               "templates"):
    assert f"\n{step}: ok in " in "\n" + done.stdout, done.stdout
  assert "numpy 2.0.2 -> 1.26.4" in done.stdout
  assert "tensorflow modules imported: []" in done.stdout
