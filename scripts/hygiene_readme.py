"""Writes (or checks) the hygiene reports of the bundled tuning sets in
lit_gemma/bundled_sets/README.md: the SFT set and the preference set, each
against the evaluation set, with the embedded Gemma 3 270M (vectors and
likelihoods, its calibrated thresholds), and each set's cleaned copy with
its drop log (`lit-gemma hygiene --write-clean`). tests/tuning/
test_hygiene.py runs the check, so the README shows what the code finds.

    python scripts/hygiene_readme.py            # rewrite the README's blocks
    python scripts/hygiene_readme.py --check    # exit 1 if they are stale
    python scripts/hygiene_readme.py --print    # print the blocks

Each report sits between `<!-- hygiene-report: FILE -->` and
`<!-- /hygiene-report -->`, each cleaned copy between `<!-- hygiene-clean:
FILE -->` and `<!-- /hygiene-clean -->`; paths are relative to the
repository root.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import re
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lit_gemma.tuning import cleaning  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.tuning import hygiene  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.cli import hygiene_command  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.tuning import report as hygiene_report  # pylint: disable=g-import-not-at-top,wrong-import-position

README = ROOT / "lit_gemma" / "bundled_sets" / "README.md"
EVAL_SET = "lit_gemma/bundled_sets/tuning_eval.jsonl"
SETS = ("lit_gemma/bundled_sets/tuning_sft.jsonl",
        "lit_gemma/bundled_sets/preference_pairs.jsonl")
KINDS = ("report", "clean")
_BLOCK = re.compile(r"<!-- hygiene-(report|clean): (\S+) -->\n(.*?)"
                    r"<!-- /hygiene-\1 -->", re.S)


@contextlib.contextmanager
def _at_root():
  here = os.getcwd()
  os.chdir(ROOT)
  try:
    yield
  finally:
    os.chdir(here)


def _cleaned(path: str, report: dict) -> str:
  """The cleaned copy and its drop log, as the README block shows them."""
  with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, os.path.basename(path))
    log = cleaning.write(path, hygiene.read_queries(path), report, out)
    rows = pathlib.Path(out).read_text(encoding="utf-8")
  log["cleaned"] = f"(--write-clean OUT) {os.path.basename(path)}"
  return (f"`lit-gemma hygiene --dataset {path} --eval_set {EVAL_SET} "
          f"--write-clean OUT` keeps {log['kept']} of {log['rows']} rows. "
          "The drop log:\n\n```json\n"
          + json.dumps(log, indent=1, ensure_ascii=False)
          + "\n```\n\n<details><summary>The cleaned set "
          f"({log['kept']} rows)</summary>\n\n```json\n{rows}```\n\n"
          "</details>\n")


def reports(lm) -> dict[tuple[str, str], str]:
  """{(kind, dataset path): block body} for every bundled set in SETS."""
  out = {}
  with _at_root():
    for path in SETS:
      report = hygiene.build(path, EVAL_SET, lm=lm)
      out["report", path] = ("```text\n" + hygiene_report.to_text(report)
                             + "```\n")
      out["clean", path] = _cleaned(path, report)
  return out


def shown(readme: str) -> dict[tuple[str, str], str]:
  """{(kind, dataset path): the block body the README shows}."""
  return {(m.group(1), m.group(2)): m.group(3)
          for m in _BLOCK.finditer(readme)}


def stale(readme: str, wanted: dict[tuple[str, str], str]) -> str | None:
  """None if the README shows exactly `wanted`; else one line saying
  what differs first."""
  have = shown(readme)
  for (kind, path), text in wanted.items():
    if (kind, path) not in have:
      return f"no '<!-- hygiene-{kind}: {path} -->' block"
    old, new = have[kind, path].splitlines(), text.splitlines()
    for number, (a, b) in enumerate(zip(old + [""] * len(new),
                                        new + [""] * len(old)), start=1):
      if a != b:
        return (f"{kind} of {path}, line {number}: shows {a.strip()[:80]!r}"
                f", now {b.strip()[:80]!r}")
  extra = sorted(set(have) - set(wanted))
  return (f"{extra[0][0]} block for {extra[0][1]}, which is not a bundled "
          "set") if extra else None


def update(readme: str, wanted: dict[tuple[str, str], str]) -> str:
  """The README with every block replaced by its current body."""
  missing = [k for k in wanted if k not in shown(readme)]
  if missing:
    kind, path = missing[0]
    raise SystemExit(f"{README}: no '<!-- hygiene-{kind}: {path} -->' block "
                     "to fill (add the marker and the end marker)")
  return _BLOCK.sub(lambda m: (
      f"<!-- hygiene-{m.group(1)}: {m.group(2)} -->\n"
      f"{wanted[m.group(1), m.group(2)]}<!-- /hygiene-{m.group(1)} -->"),
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
