"""The Cloud Run image's commands, read from its Dockerfile and run here.

There is no Docker engine on a test machine, so the tests and
benchmarks/served_memory.py run what the image runs, as the image runs it:
the Dockerfile's ENV values, the `prepare` command of its RUN line, then its
CMD (the exact gunicorn command line) with PORT set, in the repository
root (the image's WORKDIR /app holds the same tree). What differs:
`python` and `gunicorn` are this venv's, and $LIT_GEMMA_CACHE is a fresh
folder whose `models` entry links to this machine's converted models (the
image converts at build time), so what the server writes lands where the
caller can see it.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import time
import urllib.error

from http_helpers import free_port
from http_helpers import request
from lit_gemma import paths
from lit_gemma.serve import startup

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLOUDRUN = ROOT / "deploy" / "cloudrun"
DOCKERFILE = CLOUDRUN / "Dockerfile"
VENV_BIN = pathlib.Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
  """(KEYWORD, arguments) per Dockerfile instruction, lines joined."""
  result, pending = [], ""
  for line in DOCKERFILE.read_text().splitlines():
    if not pending and (not line.strip() or line.lstrip().startswith("#")):
      continue
    if line.endswith("\\"):
      pending += line[:-1] + " "
      continue
    keyword, _, args = (pending + line).strip().partition(" ")
    result.append((keyword.upper(), args.strip()))
    pending = ""
  return result


def env() -> dict[str, str]:
  """The image's ENV values."""
  values = {}
  for keyword, args in instructions():
    if keyword == "ENV":
      values.update(item.split("=", 1) for item in shlex.split(args))
  return values


def cmd() -> list[str]:
  """The image's CMD (it has no ENTRYPOINT)."""
  assert not [k for k, _ in instructions() if k == "ENTRYPOINT"]
  (command,) = [json.loads(a) for k, a in instructions() if k == "CMD"]
  return command


def prepare_command() -> list[str]:
  """The RUN line that converts the model at build time."""
  (run,) = [a for k, a in instructions()
            if k == "RUN" and "lit_gemma.serve.prepare" in a]
  return shlex.split(run)


def here(argv: list[str]) -> list[str]:
  """A command of the image with this venv's `python` and `gunicorn`."""
  if argv[0] in ("python", "gunicorn"):
    return [str(VENV_BIN / argv[0]), *argv[1:]]
  return argv


class ServedImage:
  """The image's prepare step, then its gunicorn command, running.

  Attributes:
    prepared: the finished `prepare` process (returncode, stdout, stderr).
    health_codes: every status /health answered until the first 200.
  """

  def __init__(self, tmp: pathlib.Path, share_compiled: bool = True,
               deadline: float = 600, responses: bool = False,
               more_flags: str = ""):
    """Starts the server and waits for /health to answer 200.

    Args:
      tmp: an empty folder: the cache root and the server log go there.
      share_compiled: also link this machine's JAX compile cache (fast
        starts); else the server compiles as a fresh instance would.
      deadline: seconds to wait for 200.
      responses: run the prepare step whole, generating the bundled sets'
        responses as the image build does (minutes on 2 cores); else it
        only converts (`--no_responses`: tests/serve/test_prepared_responses.py
        checks the responses on a tiny model).
      more_flags: lit-gemma flags after the image's $LIT_GEMMA_FLAGS.
    """
    self.tmp = tmp
    self.cache = tmp / "cache"
    self.cache.mkdir()
    shared = [paths.models_dir()] + (
        [paths.jax_cache_dir()] if share_compiled else [])
    for entry in shared:
      entry.mkdir(parents=True, exist_ok=True)
      (self.cache / entry.name).symlink_to(entry)
    self.port = free_port()
    self.url = f"http://127.0.0.1:{self.port}"
    self.env = {**os.environ, **env(), "PORT": str(self.port),
                paths.CACHE_ENV: str(self.cache)}
    if more_flags:
      self.env["LIT_GEMMA_FLAGS"] += f" {more_flags}"
    self.log = tmp / "server.log"
    prepare = here(prepare_command()) + ([] if responses else
                                         ["--no_responses"])
    begun = time.monotonic()
    self.prepared = subprocess.run(
        prepare, env=self.env, cwd=ROOT,
        capture_output=True, text=True, timeout=1800)
    self.prepare_s = time.monotonic() - begun
    with open(self.log, "w") as out:
      self.process = subprocess.Popen(
          here(cmd()), env=self.env, cwd=ROOT, stdout=out,
          stderr=subprocess.STDOUT, start_new_session=True)
    try:
      self.health_codes = self._wait_for_health(deadline)
    except BaseException:
      self.close()
      raise

  def _wait_for_health(self, deadline: float) -> list[int]:
    codes, start = [], time.monotonic()
    while not codes or codes[-1] != 200:
      if self.process.poll() is not None:
        raise RuntimeError(f"the server exited:\n{self.log.read_text()}")
      if time.monotonic() - start > deadline:
        raise TimeoutError(f"/health answered {codes}:\n"
                           f"{self.log.read_text()}")
      try:
        codes.append(request(self.url, startup.HEALTH_PATH, timeout=10)[0])
      except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass  # Not listening yet, or the worker still importing.
      time.sleep(0.2)
    return codes

  def close(self) -> None:
    """SIGTERM, as Cloud Run stops an instance (SIGKILL after 30 s)."""
    if self.process.poll() is not None:
      return
    self.process.send_signal(signal.SIGTERM)
    try:
      self.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
      os.killpg(self.process.pid, signal.SIGKILL)
      self.process.wait()
