"""Starts the lit-gemma prompt-debugging server: `python launch.py --help`.

Thin on purpose: everything lives in `lit_gemma.serve.entry`, which
`lit-gemma serve` and gunicorn share.
"""

import sys

from lit_gemma.serve import entry

if __name__ == "__main__":
  sys.exit(entry.run(sys.argv[1:], prog="launch.py"))
