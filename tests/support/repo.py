"""Where the tests find the repository's files, wherever a test lives."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
DATA = TESTS / "data"
SUPPORT = TESTS / "support"
LAUNCH = ROOT / "launch.py"
BUNDLED = ROOT / "lit_gemma" / "bundled_sets"
