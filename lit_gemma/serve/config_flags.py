"""lit-gemma's command-line flags, made from `ServerConfig`'s fields, and the
config the parsed flags describe.

The entry points define the flags when they run (launch.py, `lit-gemma
serve`, gunicorn's `entry.get_wsgi_app`, `serve.prepare`), never on import
of the server. Importing this module imports `lit_nlp.server_flags`, which
defines LIT's own server flags (host, port, demo_mode, ...) on absl's
global flags.
"""

from __future__ import annotations

from absl import flags
from lit_nlp import server_flags

from lit_gemma.serve import config as config_lib
from lit_gemma.serve import settings

_DEFINE = {
    "string": flags.DEFINE_string, "integer": flags.DEFINE_integer,
    "float": flags.DEFINE_float, "bool": flags.DEFINE_bool,
    "list": flags.DEFINE_list,
}
# LIT's server flags that are not LIT app options: what `ServerConfig` does
# not hold in a field of its own is passed to `lit_nlp.app.LitApp`.
_NOT_APP_OPTIONS = ("server_type",)


def _flag_default(value):
  """A field's default as its flag's: pairs as NAME:VALUE strings."""
  if isinstance(value, tuple):
    return [":".join(v) if isinstance(v, tuple) else v for v in value]
  return value


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines a flag per `ServerConfig` setting on `flag_values` (once; LIT's
  own come with `lit_nlp.server_flags`, imported here: of those, only the
  defaults of the settings that are LIT flags are set)."""
  if "models" in flag_values:
    return
  for field, record in settings.of(config_lib.ServerConfig):
    default = _flag_default(settings.default_of(field))
    if record.flag == "lit":
      flag_values.set_default(field.name, default)
    elif record.flag == "enum":
      flags.DEFINE_enum(field.name, default, record.choices, record.help,
                        flag_values=flag_values)
    elif record.flag is not None:
      _DEFINE[record.flag](field.name, default, record.help,
                           flag_values=flag_values)


def served_flags(flag_values: flags.FlagValues = flags.FLAGS
                 ) -> list[flags.Flag]:
  """What a server takes: lit-gemma's flags and LIT's server flags (those
  defined), sorted by name."""
  names = [field.name for field, record in _settings() if record.flag]
  names += list(server_flags.get_flag_holders())
  return [flag_values[name] for name in sorted(set(names))]


def _settings():
  return settings.of(config_lib.ServerConfig)


def config_from_flags(flag_values: flags.FlagValues = flags.FLAGS
                      ) -> config_lib.ServerConfig:
  """The config the parsed command-line flags describe."""
  given, lit_options = {}, {name: flag_values[name].value
                            for name in server_flags.get_flag_holders()}
  for name in _NOT_APP_OPTIONS:
    lit_options.pop(name)
  for field, record in _settings():
    if record.flag is not None:
      given[field.name] = record.from_flag(flag_values[field.name].value)
      lit_options.pop(field.name, None)
  return config_lib.ServerConfig(lit_options=lit_options, **given)

