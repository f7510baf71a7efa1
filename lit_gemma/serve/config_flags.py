"""lit-gemma's command-line flags, defined by the entry points that parse
them (`launch.py`, gunicorn's `server.get_wsgi_app`), never on import of
the server, and turned into one `ServerConfig`.

Importing this module imports `lit_nlp.server_flags`, which defines LIT's
own server flags (host, port, demo_mode, ...) on absl's global flags.
"""

from __future__ import annotations

from absl import flags
from lit_nlp import server_flags

from lit_gemma.serve import config as config_lib
from lit_gemma.lit import datasets as datasets_lib
from lit_gemma.lit import layouts
from lit_gemma.models import loading


def config_from_flags(flag_values: flags.FlagValues = flags.FLAGS
                      ) -> config_lib.ServerConfig:
  """The config the parsed command-line flags describe."""
  lit = {name: flag_values[name].value
         for name in server_flags.get_flag_holders()}
  host, port = lit.pop("host"), lit.pop("port")
  page_title = lit.pop("page_title") or config_lib.PROG
  default_layout = lit.pop("default_layout")
  lit.pop("server_type")
  datasets_value = flag_values["datasets"].value
  return config_lib.ServerConfig(
      models=config_lib.parse_models_flag(flag_values["models"].value),
      datasets=(None if datasets_value is None else tuple(
          datasets_lib.parse_datasets_flag(datasets_value))),
      max_examples=flag_values["max_examples"].value,
      batch_size=flag_values["batch_size"].value,
      generation_batch_size=flag_values["generation_batch_size"].value,
      max_length=flag_values["max_length"].value,
      max_new_tokens=flag_values["max_new_tokens"].value,
      salience_cache_mb=flag_values["salience_cache_mb"].value,
      memory_budget_gb=flag_values["memory_budget_gb"].value,
      precision=flag_values["precision"].value,
      distribution=flag_values["distribution"].value,
      data_root=flag_values["data_root"].value or None,
      warm_up=flag_values["warm_up"].value,
      part_columns=flag_values["part_columns"].value,
      near_duplicate_columns=flag_values["near_duplicate_columns"].value,
      eval_datasets=(None if flag_values["eval_datasets"].value is None
                     else tuple(flag_values["eval_datasets"].value)),
      team_mode=flag_values["team_mode"].value,
      max_request_bytes=flag_values["max_request_bytes"].value,
      max_request_inputs=flag_values["max_request_inputs"].value,
      preds_cache_mb=flag_values["preds_cache_mb"].value,
      allowed_hosts=tuple(flag_values["allowed_hosts"].value or ()),
      host=host,
      port=port,
      page_title=page_title,
      default_layout=default_layout,
      lit_options=lit,
  )


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines lit-gemma's flags on `flag_values` (once; LIT's own come with
  `lit_nlp.server_flags`, imported here)."""
  if "models" in flag_values:
    return
  defaults = config_lib.ServerConfig()
  flags.DEFINE_list(
      "models", list(config_lib.DEFAULT_MODELS),
      "Models as NAME:SOURCE,... where SOURCE is 'embedded' (Gemma 3 270M, "
      "shipped with lit-gemma), a .gguf file of a Gemma 3 or Gemma 4 text "
      "model (g4:/m/gemma-4-E2B-it-Q8_0.gguf), a keras-hub preset folder, or "
      "a keras-hub preset name of Gemma / Gemma 2 (g2:gemma2_2b_en), Gemma 3 "
      "(g3:gemma3_instruct_1b), Gemma 3n (g3n:gemma3n_e2b_it, text model) "
      "or Gemma 4 (g4:gemma4_instruct_2b, text model; not the *_assistant "
      "drafters).",
      flag_values=flag_values)
  flags.DEFINE_list(
      "datasets", None,
      "Datasets as NAME:PATH,... (.jsonl, .csv, .txt, or a .json/.yaml "
      "prompt template). Default: every bundled set; empty: none.",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "max_examples", None, "Keep the first N examples of each dataset.",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "batch_size", defaults.batch_size,
      "Most texts per salience call (more: faster on many texts, more "
      "memory).", flag_values=flag_values)
  flags.DEFINE_integer(
      "generation_batch_size", defaults.generation_batch_size,
      "Most prompts per generation call.", flag_values=flag_values)
  flags.DEFINE_integer(
      "max_length", None,
      "Most tokens (prompt + target) a request may have; longer requests are "
      "refused with the count. Default: what --memory_budget_gb allows "
      f"({defaults.max_length} for the embedded model locally).",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "max_new_tokens", defaults.max_new_tokens,
      "Most tokens generated per response.", flag_values=flag_values)
  flags.DEFINE_integer(
      "salience_cache_mb", None,
      "Most memory (MiB) kept for recently clicked texts, so that another "
      "span of one skips the forward pass (up to twice as fast). The newest "
      "text is always kept; the embedded model keeps about 850 MiB for a "
      "1000-token text (none past 2,048 tokens). Default: what "
      "--memory_budget_gb allows.", flag_values=flag_values)
  flags.DEFINE_float(
      "memory_budget_gb", None,
      "Memory (GiB) the defaults of --max_length and --salience_cache_mb "
      "are planned for (default: 8 locally, 12 with --team_mode; see the "
      "README's \"Long prompts\").", flag_values=flag_values)
  flags.DEFINE_enum(
      "precision", defaults.precision, loading.PRECISIONS, "Model weights precision.",
      flag_values=flag_values)
  flags.DEFINE_string(
      "distribution", defaults.distribution,
      "'none', or 'model_parallel[:N]': split the weights, salience and "
      "generation over N devices (default: all JAX sees).",
      flag_values=flag_values)
  flags.DEFINE_string(
      "data_root", None,
      "The only folder the UI's dataset loader may read (relative paths "
      "start there). Without it the UI cannot load files.",
      flag_values=flag_values)
  flags.DEFINE_bool(
      "warm_up", defaults.warm_up,
      "Compile salience for the datasets' common text lengths in the "
      "background after start, so the first click is fast.",
      flag_values=flag_values)
  flags.DEFINE_bool(
      "part_columns", defaults.part_columns,
      "Add data-table columns with each template part's share of salience "
      "(model NAME_parts), computed in the background.",
      flag_values=flag_values)
  flags.DEFINE_bool(
      "near_duplicate_columns", defaults.near_duplicate_columns,
      "Add the model's hygiene columns to tuning sets: near duplicates, "
      "topics and the query vectors the data_map layout draws (one batched "
      "forward pass per query at start).",
      flag_values=flag_values)
  flags.DEFINE_list(
      "eval_datasets", None,
      "Loaded datasets that are evaluation sets for the hygiene columns "
      "(default: tuning_eval when the bundled datasets are loaded); rows "
      "marked split: eval count too.", flag_values=flag_values)
  flags.DEFINE_bool(
      "team_mode", defaults.team_mode,
      "Serve a team: LIT demo mode; the endpoints that load models or "
      "datasets or read or write files answer 403.", flag_values=flag_values)
  flags.DEFINE_integer(
      "max_request_bytes", defaults.max_request_bytes,
      "Largest request body served; larger ones are answered with 413.",
      flag_values=flag_values)
  flags.DEFINE_integer(
      "max_request_inputs", defaults.max_request_inputs,
      "Most inputs one request may have (at least the largest dataset's "
      "example count, so the data table fills).", flag_values=flag_values)
  flags.DEFINE_integer(
      "preds_cache_mb", defaults.preds_cache_mb,
      "Most memory (MiB) kept for predictions of all models; least recently "
      "used ones are dropped first.", flag_values=flag_values)
  flags.DEFINE_list(
      "allowed_hosts", [],
      "Host names a local server answers besides localhost, 127.0.0.1, ::1 "
      "and --host (*.example.com: every name under it). A --team_mode server "
      "answers every name.", flag_values=flag_values)
  flag_values.set_default("page_title", config_lib.PROG)
  flag_values.set_default("default_layout", layouts.DEFAULT_LAYOUT)
