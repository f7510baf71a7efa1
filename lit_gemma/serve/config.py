"""What a lit-gemma server serves: `ServerConfig`, checked on construction.

The flags (server_flags.py), the notebook's keywords and gunicorn's
$LIT_GEMMA_FLAGS all end here, so a setting means the same everywhere and
a bad one is refused in one line naming it before anything is loaded.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lit_gemma.lit import caching
from lit_gemma.lit import datasets as datasets_lib
from lit_gemma.models import distribution as distribution_lib
from lit_gemma import errors
from lit_gemma.lit import layouts
from lit_gemma.models import loading
from lit_gemma.models import memory_budget
from lit_gemma.prompts import name_pairs
from lit_gemma.web import limits

PROG = "lit-gemma"
DEFAULT_MODELS = ("gemma:embedded",)
ConfigError = errors.ConfigError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def parse_models_flag(value: str | Sequence[str]) -> tuple[tuple[str, str], ...]:
  """`--models`: `NAME:SOURCE,...` -> (name, source) pairs."""
  return tuple(name_pairs.parse(
      value, what="SOURCE", example="gemma:embedded", kind="model",
      error=lambda message: ConfigError(f"--models: {message}")))


def _whole(flag: str, value, least: int) -> None:
  if isinstance(value, bool) or not isinstance(value, int) or value < least:
    raise ConfigError(f"{flag}={value}: must be a whole number >= {least}")


@dataclasses.dataclass(frozen=True)
class ServerConfig:
  """Everything `app_builder.build_app` needs; checked on construction.

  Attributes:
    models: (name, source) pairs; a source is what `sources.check` accepts.
    datasets: (name, path) pairs; None loads every bundled set.
    max_examples: keep the first N examples of each dataset (None: all).
    batch_size: most texts per compiled salience call (and per call of the
      LIT tokenizer and salience models).
    generation_batch_size: most prompts per compiled generation call
      (decoding is memory-bound, so more rows cost little).
    max_length: most tokens (prompt + target) a request may have (None:
      what `memory_budget_gb` allows, see models/memory_budget.py).
    max_new_tokens: most tokens generated per response.
    salience_cache_mb: most memory (MiB) the salience engine keeps for
      recently clicked texts, so that another span of one skips the forward
      pass (see salience/engine.py; None: from `memory_budget_gb`).
    memory_budget_gb: the memory (GiB) the defaults of max_length and
      salience_cache_mb are planned for (None: the mode's, 8 locally, 12
      in team mode; models/memory_budget.py).
    precision: "float32" or "bfloat16".
    distribution: "none", or "model_parallel[:N]": weights split over N
      devices (see models/distribution.py).
    data_root: the only folder the UI may read datasets from (None: the UI
      cannot load files).
    warm_up: compile salience for the common text lengths in the background
      after start, so the first click is fast.
    part_columns: serve `NAME_parts`, data-table columns of each template
      part's share of salience, computed in the background (lit/columns/part_shares.py).
    near_duplicate_columns: the hygiene columns of tuning sets include the
      model's parts: near duplicates, topics and the data map's query
      vectors (one batched forward pass per query as the app starts; the
      text columns are always there).
    eval_datasets: names of the loaded datasets that are evaluation sets
      for the hygiene columns (None: the bundled `tuning_eval` when the
      bundled datasets are loaded); `split: eval` rows count too.
    team_mode: a server shared by a team: LIT demo mode, and no request can
      load models or datasets or read or write files (see web/limits.py).
    max_request_bytes: largest request body served (413 above it).
    max_request_inputs: most inputs one request may have (never fewer than
      the largest loaded dataset has examples).
    preds_cache_mb: most memory (MiB) of kept predictions (least recently
      used dropped first).
    allowed_hosts: host names a local server answers besides loopback ones
      (`*.example.com` for every name under one; team mode answers all).
    host, port: where the server listens.
    page_title, default_layout: LIT page settings.
    lit_options: other keyword arguments for `lit_nlp.app.LitApp` (LIT's own
      server flags such as demo_mode or warm_start).
  """

  models: tuple[tuple[str, str], ...] = (("gemma", "embedded"),)
  datasets: tuple[tuple[str, str], ...] | None = None
  max_examples: int | None = None
  batch_size: int = 8
  generation_batch_size: int = 16
  max_length: int | None = None
  max_new_tokens: int = 64
  salience_cache_mb: int | None = None
  memory_budget_gb: float | None = None
  precision: str = "float32"
  distribution: str = "none"
  data_root: str | None = None
  warm_up: bool = True
  part_columns: bool = False
  near_duplicate_columns: bool = False
  eval_datasets: tuple[str, ...] | None = None
  team_mode: bool = False
  max_request_bytes: int = limits.DEFAULT_MAX_REQUEST_BYTES
  max_request_inputs: int = 256
  preds_cache_mb: int = caching.DEFAULT_MAX_MB
  allowed_hosts: tuple[str, ...] = ()
  host: str = "127.0.0.1"
  port: int = 5432
  page_title: str = PROG
  default_layout: str = layouts.DEFAULT_LAYOUT
  lit_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    object.__setattr__(self, "models", tuple(tuple(m) for m in self.models))
    object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))
    if self.datasets is not None:
      object.__setattr__(self, "datasets",
                         tuple(tuple(d) for d in self.datasets))
    if self.eval_datasets is not None:
      object.__setattr__(self, "eval_datasets", tuple(self.eval_datasets))
    self._plan_memory()
    self._check()

  def _plan_memory(self) -> None:
    """Fills max_length and salience_cache_mb left unset from the budget."""
    budget = self.memory_budget_gb
    if budget is not None:
      memory_budget.check_budget(budget)
    if self.max_length is not None and self.salience_cache_mb is not None:
      return
    plan = memory_budget.plan(
        "team" if self.team_mode else "local", budget,
        tuple(str(m[-1]) for m in self.models if m), self.precision)
    if self.max_length is None:
      object.__setattr__(self, "max_length", plan.max_length)
    if self.salience_cache_mb is None:
      object.__setattr__(self, "salience_cache_mb", plan.salience_cache_mb)

  def _check(self) -> None:
    if not self.models:
      raise ConfigError("--models: no model given (for example "
                        "--models=gemma:embedded)")
    seen = set()
    for name, source in self.models:
      if not _NAME.fullmatch(name):
        raise ConfigError(
            f"--models: model name {name!r} must start with a letter or "
            f"digit and use only letters, digits, '_', '.' and '-'")
      if name in seen:
        raise ConfigError(f"--models: model name {name!r} is given twice")
      if not source:
        raise ConfigError(f"--models: model {name!r} has no source")
      seen.add(name)
    for flag, value, least in (
        ("--batch_size", self.batch_size, 1),
        ("--generation_batch_size", self.generation_batch_size, 1),
        ("--max_new_tokens", self.max_new_tokens, 1),
        ("--salience_cache_mb", self.salience_cache_mb, 0),
        ("--max_length", self.max_length, 2),
        ("--max_request_bytes", self.max_request_bytes, 1024),
        ("--port", self.port, 0),
        ("--max_request_inputs", self.max_request_inputs, 1),
        ("--preds_cache_mb", self.preds_cache_mb, 0)):
      _whole(flag, value, least)
    if self.max_new_tokens >= self.max_length:
      raise ConfigError(
          f"--max_new_tokens={self.max_new_tokens} leaves no room for a prompt "
          f"in --max_length={self.max_length}; make --max_length larger")
    if self.max_examples is not None:
      _whole("--max_examples", self.max_examples, 1)
    if self.precision not in loading.PRECISIONS:
      raise ConfigError(f"--precision={self.precision}: expected one of "
                        f"{', '.join(loading.PRECISIONS)}")
    distribution_lib.parse(self.distribution)  # one line if malformed
    if self.team_mode and self.data_root is not None:
      raise ConfigError(
          f"--data_root={self.data_root}: a --team_mode server reads no "
          f"files on request; leave --data_root out")
    if self.data_root is not None and not os.path.isdir(self.data_root):
      raise ConfigError(f"--data_root={self.data_root}: no such folder")
    if self.default_layout not in layouts.LAYOUTS:
      raise ConfigError(
          f"--default_layout={self.default_layout}: expected one of "
          f"{', '.join(layouts.LAYOUTS)}")
    names = [name for name, _ in self.dataset_entries]
    for name in self.eval_datasets or ():
      if name not in names:
        raise ConfigError(f"--eval_datasets: no dataset named {name!r} "
                          f"(loaded: {', '.join(names)})")
    if self.lit_options.get("data_dir"):
      raise ConfigError(
          "--data_dir: LIT's prediction cache pickles its entries and is not "
          "used here; generated responses are kept in SQLite under "
          "$LIT_GEMMA_CACHE")

  @property
  def dataset_entries(self) -> tuple[tuple[str, str], ...]:
    """The datasets to load, bundled ones when none were given."""
    if self.datasets is None:
      return tuple(datasets_lib.parse_datasets_flag(
          datasets_lib.DEFAULT_DATASETS))
    return self.datasets

  @property
  def model_settings(self) -> loading.ModelSettings:
    """What the model layer needs of this config."""
    return loading.ModelSettings(
        precision=self.precision, salience_cache_mb=self.salience_cache_mb,
        batch_size=self.batch_size,
        generation_batch_size=self.generation_batch_size,
        distribution=self.distribution)
