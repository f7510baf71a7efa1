"""`python -m lit_gemma.serve.prepare`: what a server needs before its first
visit, done once: the model converted into the preset cache, and the
datasets' responses generated into the response cache.

Exists so that `make serve`, a container build or CI pay the one-time work
before serving. Without flags it prepares the embedded Gemma 3 270M and the
bundled sets; with `--gguf PATH` a local Gemma GGUF. It writes exactly the
preset the server reads (float32 weights; the server casts at load time),
so it takes no dtype. Every other flag is the server's (launch.py's, also
read from $LIT_GEMMA_FLAGS as gunicorn does): give the ones the server gets,
so the responses are the ones that server would generate (see
prepared.py). Prints progress on stderr and the preset folder on
stdout; on error prints one line and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys

from lit_gemma.models import gguf
from lit_gemma.serve import settings


def _fail(message: str) -> int:
  print(f"lit-gemma prepare: {message}", file=sys.stderr)
  return 1


def _known(arg: str, names) -> bool:
  """Whether `arg` is `--name`, `--name=value` or `--noname` of a flag."""
  name = arg.lstrip("-").partition("=")[0]
  return name in names or (name.startswith("no") and name[2:] in names)


def _server_config(gguf_path: str | None, argv: list[str], parser):
  """The `ServerConfig` of the server flags in $LIT_GEMMA_FLAGS and
  `argv`; an unknown flag is refused as argparse refuses one."""
  # pylint: disable=g-import-not-at-top
  from absl import flags
  from lit_gemma.serve import config_flags
  from lit_gemma import errors
  # pylint: enable=g-import-not-at-top
  config_flags.define_flags()
  env_flags = settings.env_flags()
  if any(a.startswith("-") and not _known(a, flags.FLAGS) for a in argv):
    parser.error(f"unrecognized arguments: {' '.join(argv)}")
  try:
    positional = flags.FLAGS([sys.argv[0], *env_flags, *argv])[1:]
  except flags.Error as e:
    raise errors.ConfigError(str(e)) from None
  if positional:
    parser.error(f"unrecognized arguments: {' '.join(positional)}")
  if gguf_path and not flags.FLAGS["models"].present:
    flags.FLAGS.models = [f"gemma:{gguf_path}"]
  return config_flags.config_from_flags()


def _responses(config) -> None:
  from lit_gemma.serve import prepared  # pylint: disable=g-import-not-at-top

  def report(line: str) -> None:
    print(f"lit-gemma prepare: {line}", file=sys.stderr, flush=True)

  done = prepared.prepare(config, report=report)
  if not done.already:
    report(f"responses ready: {done.generated} generated, {done.refused} "
           f"refused, for {done.examples} examples in {done.seconds:.0f} s")


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m lit_gemma.serve.prepare",
      description="Convert a Gemma GGUF (default: the embedded 270M model) "
      "into lit-gemma's keras-hub preset cache (the float32 preset the "
      "server loads), then generate the datasets' responses into the "
      "response cache, so serving starts without converting and the data "
      "table fills on the first visit.",
      epilog="Other flags are the server's (python launch.py --help; "
      f"${settings.FLAGS_ENV} too): give the ones the server gets.")
  parser.add_argument("--gguf", metavar="PATH",
                      help="a local Gemma .gguf file (default: embedded)")
  parser.add_argument("--no_responses", action="store_true",
                      help="convert only; generate no responses")
  args, rest = parser.parse_known_args(argv)
  if args.no_responses and rest:
    parser.error(f"unrecognized arguments: {' '.join(rest)}")
  try:
    config = None if args.no_responses else _server_config(
        args.gguf, rest, parser)
    if args.gguf:
      preset = gguf.cached_preset(args.gguf)
    else:
      preset = gguf.embedded_preset()
    print(preset, flush=True)
    if config is not None:
      _responses(config)
  except KeyboardInterrupt:
    print("lit-gemma prepare: interrupted; what was done is kept",
          file=sys.stderr)
    return 130
  except gguf.GGUFError as e:
    return _fail(str(e))
  except Exception as e:  # pylint: disable=broad-except
    from lit_gemma import errors  # pylint: disable=g-import-not-at-top
    if isinstance(e, errors.UserError):
      return _fail(str(e))
    message = (str(e).strip().splitlines() or [""])[0]
    return _fail(f"{type(e).__name__}: {message}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
