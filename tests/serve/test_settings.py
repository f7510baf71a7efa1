"""The server's settings, written once (serve/settings.py): a flag, a
notebook keyword and the --help of `launch.py` and `lit-gemma serve` all
come from one `ServerConfig` field, so they cannot drift apart.

What each test guards: a setting given as a flag must reach the server as
the same keyword would; both ways to start a server must show the same
flags with their help; a misspelt keyword must say which ones exist.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from absl import flags
import pytest

from lit_gemma import notebook
from lit_gemma.cli import main
from lit_gemma.serve import config as config_lib
from lit_gemma.serve import config_flags
from lit_gemma.serve import settings
import repo

config_flags.define_flags()  # As the entry points do before parsing.

_FLAG_LINE = re.compile(r"^  --(?:\[no\])?(\w+):", re.M)

# setting -> (its flag, the same value as a keyword), none the default.
GIVEN = {
    "models": ("--models=a:embedded,b:/m/g.gguf",
               {"a": "embedded", "b": "/m/g.gguf"}),
    "datasets": ("--datasets=x:/d/x.jsonl,/d/y.csv",
                 "x:/d/x.jsonl,/d/y.csv"),
    "max_examples": ("--max_examples=5", 5),
    "batch_size": ("--batch_size=2", 2),
    "generation_batch_size": ("--generation_batch_size=4", 4),
    "max_length": ("--max_length=512", 512),
    "max_new_tokens": ("--max_new_tokens=32", 32),
    "salience_cache_mb": ("--salience_cache_mb=100", 100),
    "memory_budget_gb": ("--memory_budget_gb=3.5", 3.5),
    "precision": ("--precision=bfloat16", "bfloat16"),
    "distribution": ("--distribution=model_parallel:2", "model_parallel:2"),
    "data_root": ("--data_root=/usr", "/usr"),  # findings_dir not inside
    "warm_up": ("--nowarm_up", False),
    "part_columns": ("--part_columns", True),
    "method_groups": ("--method_groups=loo,ig", ("loo", "ig")),
    "verdict_columns": ("--verdict_columns", True),
    "near_duplicate_columns": ("--near_duplicate_columns", True),
    "eval_datasets": ("--eval_datasets=x", ("x",)),
    "team_mode": ("--noteam_mode", False),  # with data_root: not both
    "max_request_bytes": ("--max_request_bytes=4096", 4096),
    "max_request_inputs": ("--max_request_inputs=9", 9),
    "preds_cache_mb": ("--preds_cache_mb=7", 7),
    "allowed_hosts": ("--allowed_hosts=a.example,*.b.example",
                      ["a.example", "*.b.example"]),
    "findings_dir": ("--findings_dir=/tmp/kept", "/tmp/kept"),
    "max_findings": ("--max_findings=5", 5),
    "max_note_chars": ("--max_note_chars=99", 99),
    "iap_audience": ("--iap_audience=/projects/1/x", "/projects/1/x"),
    "iap_keys": ("--iap_keys=https://keys.example/jwk",
                 "https://keys.example/jwk"),
    "host": ("--host=0.0.0.0", "0.0.0.0"),
    "port": ("--port=6001", 6001),
    "page_title": ("--page_title=mine", "mine"),
    "default_layout": ("--default_layout=wide_prompt", "wide_prompt"),
}


def _parsed(argv) -> config_lib.ServerConfig:
  try:
    flags.FLAGS(["launch.py", *argv])
    return config_flags.config_from_flags()
  finally:
    flags.FLAGS.unparse_flags()


def test_every_flag_reaches_the_config_as_its_keyword_does():
  with_flags = {f.name for f, record in settings.of(config_lib.ServerConfig)
                if record.flag}
  assert set(GIVEN) == with_flags  # A new setting: add it above.
  from_flags = _parsed([flag for flag, _ in GIVEN.values()])
  from_keywords = config_lib.ServerConfig(
      **{name: value for name, (_, value) in GIVEN.items()})
  default = config_lib.ServerConfig()
  for name in GIVEN:
    assert getattr(from_flags, name) == getattr(from_keywords, name), name
    if name != "team_mode":
      assert getattr(from_flags, name) != getattr(default, name), name
  assert from_flags.models == (("a", "embedded"), ("b", "/m/g.gguf"))
  assert from_flags.allowed_hosts == ("a.example", "*.b.example")
  # LIT's flags that are not settings of their own pass through.
  assert _parsed(["--demo_mode"]).lit_options["demo_mode"] is True


def test_a_bad_value_is_refused_the_same_way_from_a_flag_and_a_keyword():
  with pytest.raises(config_lib.ConfigError) as from_flag:
    _parsed(["--generation_batch_size=0"])
  with pytest.raises(config_lib.ConfigError) as from_keyword:
    config_lib.ServerConfig(generation_batch_size=0)
  assert str(from_flag.value) == str(from_keyword.value) == (
      "--generation_batch_size=0: must be a whole number >= 1")


def _listed(help_text: str) -> set[str]:
  return set(_FLAG_LINE.findall(help_text))


def test_launch_py_and_lit_gemma_serve_list_the_same_flags(capsys):
  done = subprocess.run(
      [sys.executable, str(repo.LAUNCH), "--help"], capture_output=True,
      text=True, timeout=240, cwd=repo.ROOT,
      env=dict(os.environ, PYTHONPATH=str(repo.ROOT)))
  assert done.returncode == 0, done.stderr
  assert main.main(["serve", "--help"]) == 0
  served = capsys.readouterr().out
  assert done.stdout.startswith("usage: launch.py [flags]")
  assert served.startswith("usage: lit-gemma serve [flags]")
  assert _listed(done.stdout) == _listed(served)
  # Every setting's flag with its help, and LIT's server flags.
  for field, record in settings.of(config_lib.ServerConfig):
    if record.flag and record.flag != "lit":
      assert field.name in _listed(served)
      first_words = re.escape(" ".join(record.help.split()[:4]))
      assert re.search(rf"--(\[no\])?{field.name}: (<[\w|]+>: )?{first_words}",
                       " ".join(served.split())), field.name
  assert {"demo_mode", "port", "host", "warm_start"} <= _listed(served)


def test_load_model_names_a_misspelt_keyword_and_the_accepted_ones():
  with pytest.raises(notebook.StartError) as raised:
    notebook.load_model(precison="bfloat16")
  assert str(raised.value) == (
      "unknown keyword 'precison' (did you mean 'precision'?); accepted: "
      "batch_size, distribution, generation_batch_size, precision, "
      "salience_cache_mb")
  with pytest.raises(notebook.StartError, match="^--batch_size=0: must be"):
    notebook.load_model(batch_size=0)


def test_pairs_are_taken_in_every_form_a_notebook_writes_them():
  forms = ({"a": "embedded", "b": "x.gguf"}, "a:embedded,b:x.gguf",
           ["a:embedded", "b:x.gguf"], [("a", "embedded"), ["b", "x.gguf"]])
  for form in forms:
    assert config_lib.ServerConfig(models=form).models == (
        ("a", "embedded"), ("b", "x.gguf")), form
  for bad, message in ((5, "--models=5: expected NAME:VALUE,... or"),
                       ([("a",)], "--models: ('a',) is not a (name, value)")):
    with pytest.raises(config_lib.ConfigError) as e:
      config_lib.ServerConfig(models=bad)
    assert str(e.value).startswith(message)
