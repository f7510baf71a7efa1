"""Writes (or checks) the hygiene reports of the bundled tuning sets in
lit_gemma/bundled_sets/README.md: the SFT set and the preference set, each against the
evaluation set, with the embedded Gemma 3 270M's near duplicates.
tests/tuning/test_hygiene.py runs the check, so the README shows what the code finds.

    python scripts/hygiene_readme.py            # rewrite the README's blocks
    python scripts/hygiene_readme.py --check    # exit 1 if they are stale
    python scripts/hygiene_readme.py --print    # print the blocks

Each report sits between `<!-- hygiene-report: FILE -->` and
`<!-- /hygiene-report -->`; its paths are relative to the repository root.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lit_gemma.tuning import hygiene  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.cli import hygiene_command  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.tuning import report as hygiene_report  # pylint: disable=g-import-not-at-top,wrong-import-position

README = ROOT / "lit_gemma" / "bundled_sets" / "README.md"
EVAL_SET = "lit_gemma/bundled_sets/tuning_eval.jsonl"
SETS = ("lit_gemma/bundled_sets/tuning_sft.jsonl",
        "lit_gemma/bundled_sets/preference_pairs.jsonl")
END = "<!-- /hygiene-report -->"
_BLOCK = re.compile(r"<!-- hygiene-report: (\S+) -->\n```text\n(.*?)```\n"
                    + re.escape(END), re.S)


@contextlib.contextmanager
def _at_root():
  here = os.getcwd()
  os.chdir(ROOT)
  try:
    yield
  finally:
    os.chdir(here)


def reports(lm) -> dict[str, str]:
  """{dataset path: its text report} for every bundled set in SETS."""
  with _at_root():
    return {path: hygiene_report.to_text(hygiene.build(path, EVAL_SET, lm=lm))
            for path in SETS}


def shown(readme: str) -> dict[str, str]:
  """{dataset path: the report the README shows}."""
  return {m.group(1): m.group(2) for m in _BLOCK.finditer(readme)}


def stale(readme: str, wanted: dict[str, str]) -> str | None:
  """None if the README shows exactly `wanted`; else one line saying
  what differs first."""
  have = shown(readme)
  for path, text in wanted.items():
    if path not in have:
      return f"no '<!-- hygiene-report: {path} -->' block"
    old, new = have[path].splitlines(), text.splitlines()
    for number, (a, b) in enumerate(zip(old + [""] * len(new),
                                        new + [""] * len(old)), start=1):
      if a != b:
        return (f"report of {path}, line {number}: shows {a.strip()!r}, "
                f"now {b.strip()!r}")
  extra = sorted(set(have) - set(wanted))
  return f"block for {extra[0]}, which is not a bundled set" if extra else None


def update(readme: str, wanted: dict[str, str]) -> str:
  """The README with every block replaced by its current report."""
  missing = [p for p in wanted if p not in shown(readme)]
  if missing:
    raise SystemExit(f"{README}: no '<!-- hygiene-report: {missing[0]} -->' "
                     "block to fill (add the marker and the end marker)")
  return _BLOCK.sub(lambda m: (f"<!-- hygiene-report: {m.group(1)} -->\n"
                               f"```text\n{wanted[m.group(1)]}```\n{END}"),
                    readme)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  what = parser.add_mutually_exclusive_group()
  what.add_argument("--check", action="store_true")
  what.add_argument("--print", action="store_true")
  parser.add_argument("--model", default="embedded")
  args = parser.parse_args(argv)
  wanted = reports(hygiene_command.load_lm(args.model))
  readme = README.read_text(encoding="utf-8")
  if args.print:
    print("\n".join(wanted.values()), end="")
  elif args.check:
    problem = stale(readme, wanted)
    if problem:
      name = README.relative_to(ROOT) if README.is_relative_to(ROOT) else README
      print(f"{name} is stale: {problem} (run python "
            "scripts/hygiene_readme.py)", file=sys.stderr)
      return 1
  else:
    README.write_text(update(readme, wanted), encoding="utf-8")
  return 0


if __name__ == "__main__":
  sys.exit(main())
