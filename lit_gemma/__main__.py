"""`python -m lit_gemma`: the command line (cli/main.py)."""

import sys

from lit_gemma.cli import main

if __name__ == "__main__":
  sys.exit(main.main())
