"""`python -m lit_gemma.prepare`: convert a GGUF into the preset cache, alone.

Exists so that a container build or CI can pay the one-time conversion
before serving. Without flags it prepares the embedded Gemma 3 270M; with
`--gguf PATH` a local Gemma 3 GGUF. Prints progress on stderr and the preset
folder on stdout; on error prints one line and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys

from lit_gemma import gguf


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m lit_gemma.prepare",
      description="Convert a Gemma 3 GGUF (default: the embedded 270M model) "
      "into lit-gemma's keras-hub preset cache.")
  parser.add_argument("--gguf", metavar="PATH",
                      help="a local Gemma 3 .gguf file (default: embedded)")
  parser.add_argument("--dtype", choices=gguf.DTYPES, default="float32",
                      help="weights dtype of the preset (default: float32)")
  args = parser.parse_args(argv)
  try:
    if args.gguf:
      preset = gguf.cached_preset(args.gguf, dtype=args.dtype)
    else:
      preset = gguf.embedded_preset(dtype=args.dtype)
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
