"""`python -m lit_gemma`: the command line (cli.py)."""

import sys

from lit_gemma import cli

if __name__ == "__main__":
  sys.exit(cli.main())
