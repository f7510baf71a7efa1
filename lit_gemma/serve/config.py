"""What a lit-gemma server serves: `ServerConfig`, checked on construction.

Each field is written once, with its help and its own check
(settings.py); the flags (config_flags.py), the notebook's keywords and
gunicorn's $LIT_GEMMA_FLAGS are made from the fields, so a setting means the
same everywhere and a bad one is refused in one line naming it before
anything is loaded.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lit_gemma.lit import caching
from lit_gemma.lit import datasets as datasets_lib
from lit_gemma.models import distribution as distribution_lib
from lit_gemma import errors
from lit_gemma.findings import store as findings_store
from lit_gemma.lit import findings as findings_lib
from lit_gemma.lit import group_kinds
from lit_gemma.lit import layouts
from lit_gemma.models import loading
from lit_gemma.models import memory_budget
from lit_gemma.prompts import name_pairs
from lit_gemma.serve import settings
from lit_gemma.web import iap
from lit_gemma.web import limits

PROG = "lit-gemma"
ConfigError = errors.ConfigError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def parse_models_flag(value: str | Sequence[str]) -> tuple[tuple[str, str], ...]:
  """`--models`: `NAME:SOURCE,...` -> (name, source) pairs."""
  return tuple(name_pairs.parse(
      value, what="SOURCE", example="gemma:embedded", kind="model",
      error=lambda message: ConfigError(f"--models: {message}")))


def _pairs(flag: str, value, parse) -> tuple[tuple[str, str], ...]:
  """{name: value}, (name, value) pairs, or the flag's `NAME:VALUE,...`
  (a string or a list of them) -> pairs."""
  if isinstance(value, str) or (
      isinstance(value, Sequence) and value and
      all(isinstance(item, str) for item in value)):
    return tuple(parse(value))
  if isinstance(value, Mapping):
    return tuple((str(k), str(v)) for k, v in value.items())
  if not isinstance(value, Iterable):
    raise ConfigError(f"{flag}={value!r}: expected NAME:VALUE,... or "
                      f"(name, value) pairs")
  pairs = tuple(tuple(p) if isinstance(p, Sequence) and not isinstance(p, str)
                else (p,) for p in value)
  for pair in pairs:
    if len(pair) != 2:
      raise ConfigError(f"{flag}: {pair!r} is not a (name, value) pair")
  return pairs


def _models(flag: str, value) -> tuple[tuple[str, str], ...]:
  models = _pairs(flag, value, parse_models_flag)
  if not models:
    raise ConfigError(f"{flag}: no model given (for example "
                      f"{flag}=gemma:embedded)")
  seen = set()
  for name, source in models:
    if not _NAME.fullmatch(name):
      raise ConfigError(
          f"{flag}: model name {name!r} must start with a letter or "
          f"digit and use only letters, digits, '_', '.' and '-'")
    if name in seen:
      raise ConfigError(f"{flag}: model name {name!r} is given twice")
    if not source:
      raise ConfigError(f"{flag}: model {name!r} has no source")
    seen.add(name)
  return models


def _datasets(flag: str, value):
  if value is None:
    return None
  return _pairs(flag, value, datasets_lib.parse_datasets_flag)


def _host_names(unused_flag: str, value) -> tuple[str, ...]:
  """A list of names, or the flag's `NAME,...`."""
  if isinstance(value, str):
    return tuple(n.strip() for n in value.split(",") if n.strip())
  return tuple(value)


def _optional_names(unused_flag: str, value) -> tuple[str, ...] | None:
  """None, or a list of names (the flag's `A,B`)."""
  if value is None:
    return None
  return _host_names(unused_flag, value)


def _method_groups(flag: str, value) -> tuple[str, ...]:
  """Group suffixes (group_kinds.py), a list or the flag's `A,B`; 'none'
  (or nothing) for none."""
  if isinstance(value, str):
    value = value.split(",")
  names = tuple(n.strip() for n in value or () if n.strip()
                and n.strip() != "none")
  try:
    return group_kinds.check(names)
  except ValueError as e:
    raise ConfigError(f"{flag}: {e}") from None


def _memory_budget(unused_flag: str, value):
  if value is not None:
    memory_budget.check_budget(value)
  return value


def _distribution(flag: str, value):
  distribution_lib.parse(value, flag)  # one line if malformed
  return value


def _data_root(flag: str, value):
  if value is not None and not os.path.isdir(value):
    raise ConfigError(f"{flag}={value}: no such folder")
  return value


def _not_empty(flag: str, value):
  if value is not None and not str(value).strip():
    raise ConfigError(f"{flag} is empty")
  return value


def _iap_keys(flag: str, value):
  if not value.startswith(("https://", "http://")) and not os.path.isfile(
      value):
    raise ConfigError(f"{flag}={value}: neither a URL nor a file")
  return value


def _lit_options(unused_flag: str, value):
  if value.get("data_dir"):
    raise ConfigError(
        "--data_dir: LIT's prediction cache pickles its entries and is not "
        "used here; generated responses are kept in SQLite under "
        "$LIT_GEMMA_CACHE")
  return value


setting = settings.setting
whole = settings.whole


@dataclasses.dataclass(frozen=True)
class ServerConfig:
  """Everything `build.build_app` needs; checked on construction.

  Each field is one setting: its help, its flag (config_flags.py makes
  them) and its own check sit beside it; checks across settings are in
  `__post_init__`. A notebook's `show(...)` takes the same names.
  """

  models: tuple[tuple[str, str], ...] = setting(
      parse_models_flag("gemma:embedded"), flag="list", accept=_models,
      from_flag=parse_models_flag,
      help="Models as NAME:SOURCE,... where SOURCE is 'embedded' (Gemma 3 "
      "270M, shipped with lit-gemma), a .gguf file of a Gemma 3 or Gemma 4 "
      "text model (g4:/m/gemma-4-E2B-it-Q8_0.gguf), a keras-hub preset "
      "folder, or a keras-hub preset name of Gemma / Gemma 2 "
      "(g2:gemma2_2b_en), Gemma 3 (g3:gemma3_instruct_1b), Gemma 3n "
      "(g3n:gemma3n_e2b_it, text model) or Gemma 4 (g4:gemma4_instruct_2b, "
      "text model; not the *_assistant drafters).")
  datasets: tuple[tuple[str, str], ...] | None = setting(
      None, flag="list", accept=_datasets,
      from_flag=lambda v: None if v is None else tuple(
          datasets_lib.parse_datasets_flag(v)),
      help="Datasets as NAME:PATH,... (.jsonl, .csv, .txt, or a .json/.yaml "
      "prompt template). Default: every bundled set; empty: none.")
  max_examples: int | None = setting(
      None, flag="integer", accept=whole(1, optional=True),
      help="Keep the first N examples of each dataset.")
  batch_size: int = setting(
      8, flag="integer", accept=whole(1),
      help="Most texts per salience call, and per call of the LIT tokenizer "
      "and salience models (more: faster on many texts, more memory).")
  generation_batch_size: int = setting(
      16, flag="integer", accept=whole(1),
      help="Most prompts per generation call (decoding is memory-bound, so "
      "more rows cost little).")
  max_length: int | None = setting(
      None, flag="integer", accept=whole(2, optional=True),
      help="Most tokens (prompt + target) a request may have; longer "
      "requests are refused with the count. Default: what "
      f"--memory_budget_gb allows ({memory_budget.plan().max_length} for the "
      "embedded model locally).")
  max_new_tokens: int = setting(
      64, flag="integer", accept=whole(1),
      help="Most tokens generated per response.")
  salience_cache_mb: int | None = setting(
      None, flag="integer", accept=whole(0, optional=True),
      help="Most memory (MiB) kept for recently clicked texts, so that "
      "another span of one skips the forward pass (up to twice as fast). "
      "The newest text is always kept; the embedded "
      "model keeps about 850 MiB for a 1000-token text (none past 2,048 "
      "tokens). Default: what --memory_budget_gb allows.")
  memory_budget_gb: float | None = setting(
      None, flag="float", accept=_memory_budget,
      help="Memory (GiB) the defaults of --max_length and "
      "--salience_cache_mb are planned for (default: "
      f"{memory_budget.MODES['local']:g} locally, "
      f"{memory_budget.MODES['team']:g} with --team_mode, "
      f"{memory_budget.MODES['notebook']:g} in a notebook; see the README's "
      "\"Long prompts\").")
  precision: str = setting(
      "float32", flag="enum", choices=loading.PRECISIONS,
      accept=settings.one_of(loading.PRECISIONS),
      help="Model weights precision (bfloat16: half the memory; the "
      "salience goals are measured in float32).")
  distribution: str = setting(
      "none", flag="string", accept=_distribution,
      help="'none', or 'model_parallel[:N]': split the weights, salience "
      "and generation over N devices (default: all JAX sees).")
  data_root: str | None = setting(
      None, flag="string", accept=_data_root,
      from_flag=lambda v: v or None,
      help="The only folder the UI's dataset loader may read (relative "
      "paths start there). Without it the UI cannot load files.")
  warm_up: bool = setting(
      True, flag="bool",
      help="Compile the salience programs of the datasets' text lengths "
      "before the URL shows, so that every click on them is fast from the "
      "first (models/warmup.py).")
  part_columns: bool = setting(
      False, flag="bool",
      help="Add data-table columns with each template part's share of "
      "salience (model NAME_parts), computed in the background.")
  method_groups: tuple[str, ...] = setting(
      group_kinds.DEFAULT, flag="list", accept=_method_groups,
      from_flag=lambda v: () if v is None else v,
      help="Model groups served beside each model for faithful and "
      "contrastive maps: NAME_contrast, NAME_loo, NAME_loo_contrast, "
      "NAME_loo_word, NAME_fit, NAME_greedy, NAME_ig (default: all; 'none' "
      "for none).")
  verdict_columns: bool = setting(
      False, flag="bool",
      help="Compute every datapoint's verdict columns (model NAME_verdicts: "
      "is each map better than random deletions) in the background after "
      "the warm-up; otherwise only the rows a request asks for.")
  near_duplicate_columns: bool = setting(
      False, flag="bool",
      help="Add the model's hygiene columns to tuning sets: near duplicates, "
      "topics and the query vectors the data_map layout draws (one batched "
      "forward pass per query at start; the text columns are always there).")
  eval_datasets: tuple[str, ...] | None = setting(
      None, flag="list", accept=_optional_names,
      from_flag=lambda v: None if v is None else tuple(v),
      help="Loaded datasets that are evaluation sets for the hygiene columns "
      "(default: tuning_eval when the bundled datasets are loaded); rows "
      "marked split: eval count too.")
  team_mode: bool = setting(
      False, flag="bool",
      help="Serve a team: LIT demo mode; the endpoints that load models or "
      "datasets or read or write files answer 403.")
  max_request_bytes: int = setting(
      limits.DEFAULT_MAX_REQUEST_BYTES, flag="integer", accept=whole(1024),
      help="Largest request body served; larger ones are answered with 413.")
  max_request_inputs: int = setting(
      256, flag="integer", accept=whole(1),
      help="Most inputs one request may have (at least the largest "
      "dataset's example count, so the data table fills).")
  preds_cache_mb: int = setting(
      caching.DEFAULT_MAX_MB, flag="integer", accept=whole(0),
      help="Most memory (MiB) kept for predictions of all models; least "
      "recently used ones are dropped first.")
  allowed_hosts: tuple[str, ...] = setting(
      (), flag="list", accept=_host_names, from_flag=lambda v: v or (),
      help="Host names a local server answers besides localhost, 127.0.0.1, "
      "::1 and --host (*.example.com: every name under it). A --team_mode "
      "server answers every name.")
  findings_dir: str | None = setting(
      None, flag="string", accept=_not_empty, from_flag=lambda v: v or None,
      help="Keep teammates' findings (a datapoint added in the Datapoint "
      "Editor with a note) in this folder, one file each, and list them in "
      "the 'findings' dataset; on Cloud Run, a Cloud Storage volume. "
      "Default: no findings.")
  max_findings: int = setting(
      findings_store.DEFAULT_MAX_FINDINGS, flag="integer", accept=whole(1),
      help="Most findings kept in --findings_dir (403 above).")
  max_note_chars: int = setting(
      findings_store.DEFAULT_MAX_NOTE_CHARS, flag="integer",
      accept=whole(1), help="Most characters of a finding's note (400 "
      "above).")
  iap_audience: str | None = setting(
      None, flag="string", accept=_not_empty, from_flag=lambda v: v or None,
      help="This service's Identity-Aware Proxy audience "
      "(/projects/NUMBER/locations/REGION/services/NAME on Cloud Run): a "
      "finding's author is then the email IAP signs. Without it a finding "
      "shows the name typed, marked unverified.")
  iap_keys: str = setting(
      iap.GOOGLE_KEYS, flag="string", accept=_iap_keys,
      help="Where IAP's public keys are read: a URL or a JWK-set file.")
  host: str = setting(
      "127.0.0.1", flag="lit", help="Where the server listens (address).")
  port: int = setting(
      5432, flag="lit", accept=whole(0),
      help="Where the server listens (port; 0: any free one).")
  page_title: str = setting(
      PROG, flag="lit", from_flag=lambda v: v or PROG,
      help="The LIT page's title.")
  default_layout: str = setting(
      layouts.DEFAULT_LAYOUT, flag="lit",
      accept=settings.one_of(tuple(layouts.LAYOUTS)),
      help="The LIT layout the page opens with.")
  lit_options: Mapping[str, Any] = setting(
      flag=None, default_factory=dict, accept=_lit_options,
      help="Other keyword arguments for `lit_nlp.app.LitApp` (LIT's own "
      "server flags such as demo_mode or warm_start).")

  def __post_init__(self):
    settings.accept_all(self)
    self._plan_memory()
    self._check_together()

  def _plan_memory(self) -> None:
    """Fills max_length and salience_cache_mb left unset from the budget."""
    if self.max_length is not None and self.salience_cache_mb is not None:
      return
    plan = memory_budget.plan(
        "team" if self.team_mode else "local", self.memory_budget_gb,
        tuple(source for _, source in self.models), self.precision)
    if self.max_length is None:
      object.__setattr__(self, "max_length", plan.max_length)
    if self.salience_cache_mb is None:
      object.__setattr__(self, "salience_cache_mb", plan.salience_cache_mb)

  def _check_together(self) -> None:
    """The checks that need more than one setting."""
    if self.max_new_tokens >= self.max_length:
      raise ConfigError(
          f"--max_new_tokens={self.max_new_tokens} leaves no room for a prompt "
          f"in --max_length={self.max_length}; make --max_length larger")
    if self.team_mode and self.data_root is not None:
      raise ConfigError(
          f"--data_root={self.data_root}: a --team_mode server reads no "
          f"files on request; leave --data_root out")
    names = [name for name, _ in self.dataset_entries]
    for name in self.eval_datasets or ():
      if name not in names:
        raise ConfigError(f"--eval_datasets: no dataset named {name!r} "
                          f"(loaded: {', '.join(names)})")
    self._check_findings()

  def _check_findings(self) -> None:
    if self.findings_dir is None:
      if self.iap_audience:
        raise ConfigError("--iap_audience names the authors of findings: "
                          "give --findings_dir too")
      return
    if self.data_root is not None:
      root = os.path.realpath(self.data_root)
      if os.path.commonpath([root, os.path.realpath(self.findings_dir)]
                            ) == root:
        raise ConfigError(f"--findings_dir={self.findings_dir} is inside "
                          f"--data_root, where the UI may read and write "
                          f"files; keep findings elsewhere")
    if findings_lib.DATASET in dict(self.datasets or ()):
      raise ConfigError(f"--datasets: the name {findings_lib.DATASET!r} is "
                        f"the team's findings (--findings_dir); rename it")

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
