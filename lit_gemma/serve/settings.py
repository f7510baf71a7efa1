"""One server setting, written once: its default, its help, how it is given
as a flag, and the check that belongs to it alone.

`ServerConfig`'s fields are made with `setting(...)`; the absl flags
(config_flags.py), the notebook's keywords (notebook.py) and gunicorn's
$LIT_GEMMA_FLAGS are generated from these records, so a setting cannot mean
one thing as a flag and another as a keyword, and a new one is one field.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shlex
from collections.abc import Callable, Iterator
from typing import Any

from lit_gemma import errors

# absl flag kinds a setting can have; "lit": LIT's own server flag of the
# same name (lit_nlp.server_flags defines it; only its default is ours).
FLAG_KINDS = ("string", "integer", "float", "bool", "list", "enum", "lit")
_KEY = "lit_gemma.setting"
# gunicorn reads its own command line: lit-gemma's flags for
# entry.get_wsgi_app() (and serve.prepare) can come from this environment
# variable (the container sets it).
FLAGS_ENV = "LIT_GEMMA_FLAGS"


def _same(unused_flag: str, value):
  return value


@dataclasses.dataclass(frozen=True)
class Setting:
  """How one `ServerConfig` field is given, explained and checked.

  Attributes:
    help: what it does, shown by --help and in the notebook's docs.
    flag: how it is given on the command line (one of FLAG_KINDS), or None
      for no flag of its own.
    choices: the values an "enum" flag accepts.
    from_flag: the parsed flag's value -> the field's value.
    accept: (its flag's name, a value) -> the value kept, or ConfigError in
      one line naming the flag; runs on every ServerConfig, however made.
  """

  help: str
  flag: str | None
  choices: tuple[str, ...] = ()
  from_flag: Callable[[Any], Any] = lambda value: value
  accept: Callable[[str, Any], Any] = _same

  def __post_init__(self):
    if self.flag is not None and self.flag not in FLAG_KINDS:
      raise ValueError(f"flag kind {self.flag!r}: expected one of "
                       f"{', '.join(FLAG_KINDS)}")


def setting(default: Any = dataclasses.MISSING, *, help: str,  # pylint: disable=redefined-builtin
            flag: str | None, default_factory: Any = dataclasses.MISSING,
            **record) -> Any:
  """A dataclass field carrying its `Setting` (`record`: its other
  attributes)."""
  return dataclasses.field(
      default=default, default_factory=default_factory,
      metadata={_KEY: Setting(help=help, flag=flag, **record)})


def of(config_class) -> Iterator[tuple[dataclasses.Field, Setting]]:
  """Each field of `config_class` with its `Setting`, in order."""
  for field in dataclasses.fields(config_class):
    yield field, field.metadata[_KEY]


def default_of(field: dataclasses.Field) -> Any:
  if field.default_factory is not dataclasses.MISSING:
    return field.default_factory()
  return field.default


def accept_one(config_class, name: str, value):
  """`value` as setting `name` of `config_class` keeps it, checked alone."""
  field = {f.name: f for f in dataclasses.fields(config_class)}[name]
  return field.metadata[_KEY].accept(f"--{name}", value)


def accept_all(config) -> None:
  """Runs every setting's own check on a (frozen) config, keeping what each
  returns."""
  for field, record in of(type(config)):
    value = record.accept(f"--{field.name}", getattr(config, field.name))
    object.__setattr__(config, field.name, value)


def refuse_unknown(given, accepted, what: str = "setting") -> None:
  """ConfigError naming the first of `given` not `accepted` (with the
  likeliest meant one) and every accepted name."""
  unknown = [name for name in given if name not in accepted]
  if not unknown:
    return
  name = unknown[0]
  close = difflib.get_close_matches(name, accepted, n=1)
  hint = f" (did you mean {close[0]!r}?)" if close else ""
  raise errors.ConfigError(f"unknown {what} {name!r}{hint}; accepted: "
                           f"{', '.join(sorted(accepted))}")


def keyword_docs(config_class, skip=(), indent: str = "    ") -> str:
  """The settings as documented keywords (`name: help`, one paragraph
  each), for a docstring."""
  lines = []
  for field, record in of(config_class):
    if field.name not in skip:
      text = " ".join(record.help.split())
      lines.append(f"{indent}{field.name}: {text}")
  return "\n".join(lines)


def env_flags() -> list[str]:
  """The flags in $LIT_GEMMA_FLAGS, split as a shell would."""
  try:
    return shlex.split(os.environ.get(FLAGS_ENV, ""))
  except ValueError as e:
    raise errors.ConfigError(f"${FLAGS_ENV}: {e}") from None


# ----------------------------------------------- checks of one setting


def whole(least: int, optional: bool = False
          ) -> Callable[[str, Any], Any]:
  """A whole number >= `least` (or None, if `optional`)."""

  def accept(flag: str, value):
    if optional and value is None:
      return value
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
      raise errors.ConfigError(
          f"{flag}={value}: must be a whole number >= {least}")
    return value

  return accept


def one_of(choices) -> Callable[[str, Any], Any]:
  """One of `choices` (shown in their order)."""

  def accept(flag: str, value):
    if value not in choices:
      raise errors.ConfigError(
          f"{flag}={value}: expected one of {', '.join(choices)}")
    return value

  return accept
