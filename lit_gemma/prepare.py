"""`python -m lit_gemma.prepare`: convert a GGUF into the preset cache, alone.

Exists so that a container build or CI can pay the one-time conversion
before serving. Without flags it prepares the embedded Gemma 3 270M; with
`--gguf PATH` a local Gemma 3 GGUF. It writes exactly the preset the server
reads (float32 weights; the server casts at load time), so it takes no dtype.
Prints progress on stderr and the preset folder on stdout; on error prints one
line and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys

from lit_gemma import gguf


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m lit_gemma.prepare",
      description="Convert a Gemma 3 GGUF (default: the embedded 270M model) "
      "into lit-gemma's keras-hub preset cache: the same float32 preset the "
      "server loads, so serving starts without converting.")
  parser.add_argument("--gguf", metavar="PATH",
                      help="a local Gemma 3 .gguf file (default: embedded)")
  args = parser.parse_args(argv)
  try:
    if args.gguf:
      preset = gguf.cached_preset(args.gguf)
    else:
      preset = gguf.embedded_preset()
  except KeyboardInterrupt:
    print("lit-gemma prepare: interrupted; nothing was cached", file=sys.stderr)
    return 130
  except gguf.GGUFError as e:
    print(f"lit-gemma prepare: {e}", file=sys.stderr)
    return 1
  except Exception as e:  # pylint: disable=broad-except
    message = (str(e).strip().splitlines() or [""])[0]
    print(f"lit-gemma prepare: {type(e).__name__}: {message}", file=sys.stderr)
    return 1
  print(preset)
  return 0


if __name__ == "__main__":
  sys.exit(main())
