"""deploy/cloudrun/job.sh: the Cloud Run job a team runs a dataset on, as
its dry run prints it (no gcloud here). The image running one task with the
task variables set is deploy/cloudrun/image_check.sh's (tests/deploy/test_image.py);
the shard split and the merge are test_cli's."""

from __future__ import annotations

import pathlib
import shlex
import subprocess

from lit_gemma.cli import main
import repo

JOB = repo.ROOT / "deploy/cloudrun/job.sh"


def _dry_run(*options: str) -> subprocess.CompletedProcess:
  return subprocess.run(["bash", str(JOB), "--dry-run", *options],
                        capture_output=True, text=True, check=False)


def test_job_runs_batch_on_every_task_into_the_bucket():
  done = _dry_run("--image", "IMG", "--bucket", "b", "--dataset",
                  "sets/prompts.jsonl", "--tasks", "3", "--batch-flags",
                  "--check --methods grad_l2")
  assert done.returncode == 0, done.stderr
  argv = shlex.split(done.stdout)
  assert argv[:5] == ["gcloud", "run", "jobs", "deploy", "lit-gemma-batch"]
  options = dict(a.split("=", 1) for a in argv[5:])
  assert options["--image"] == "IMG" and options["--tasks"] == "3"
  assert options["--command"] == "python"
  assert options["--add-volume"] == "name=batch,type=cloud-storage,bucket=b"
  assert options["--add-volume-mount"] == ("volume=batch,"
                                           "mount-path=/mnt/batch")
  args = options["--args"].removeprefix("^|^").split("|")
  assert args[:2] == ["-m", "lit_gemma"]
  parsed = main.build_parser().parse_args(args[2:])  # what the task runs
  assert parsed.command == "batch" and parsed.shard is None  # from the env
  assert parsed.dataset == "/mnt/batch/sets/prompts.jsonl"
  assert parsed.out == "/mnt/batch/prompts.results.jsonl"
  assert parsed.check and parsed.methods == ["grad_l2"]


def test_job_options_are_checked_in_one_line():
  for options, message in [
      ((), "--image is required"),
      (("--image", "I"), "--bucket is required"),
      (("--image", "I", "--bucket", "b"), "--dataset is required"),
      (("--image", "I", "--bucket", "b", "--dataset", "d", "--tasks", "0"),
       "--tasks=0: expected a whole number >= 1")]:
    done = _dry_run(*options)
    assert done.returncode == 2 and done.stderr.startswith(
        f"job.sh: {message}"), done.stderr
    assert len(done.stderr.splitlines()) == 1
