"""The Cloud Run image built with podman and run here (slow: minutes of pip
install; `pytest -m slow tests/deploy/test_image.py`). deploy/cloudrun/
image_check.sh does the work; this test fails if any of its checks does."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import repo

ROOT = repo.ROOT


@pytest.mark.slow
def test_image_builds_serves_and_runs_a_job_shard():
  done = subprocess.run(
      ["bash", str(ROOT / "deploy" / "cloudrun" / "image_check.sh")],
      cwd=ROOT, env=dict(os.environ, PYTHON=sys.executable),
      capture_output=True, text=True,
      timeout=3600, check=False)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  for line in ("/health: ", "salience: ", "team mode: 4 blocked requests "
               "answered 403", "job shard ok: examples [1, 3]",
               "image size: ", "all image checks passed"):
    assert line in done.stdout, done.stdout
