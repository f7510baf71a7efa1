"""Runs one example of each `lit-gemma` subcommand on the embedded model and
prints the README's "Command line" examples with their real output.
tests/cli/test_cli_real.py checks that README.md holds exactly this block.

    python scripts/readme_cli_examples.py           # print the block
    python scripts/readme_cli_examples.py --write   # put it in README.md
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import shlex
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lit_gemma.cli import main as cli  # pylint: disable=g-import-not-at-top,wrong-import-position

README = ROOT / "README.md"
START = "<!-- cli-examples:start (scripts/readme_cli_examples.py) -->"
END = "<!-- cli-examples:end -->"
FILES = {
    "prompts.jsonl": (
        '{"prompt": "The capital of France is", "target": " Paris."}\n'
        '{"prompt": "Water is made of", "target": " hydrogen and oxygen."}\n'),
    "versions.yaml": (
        "- id: plain\n"
        "  template: \"Q: {{question}}\\nA:\"\n"
        "  rows: &rows\n"
        "    - {question: \"What is the capital of France?\", "
        "target: \" Paris\"}\n"
        "- id: instructed\n"
        "  template: \"Answer in one word.\\nQ: {{question}}\\nA:\"\n"
        "  rows: *rows\n"),
}
COMMANDS = [
    ["explain", "--prompt", "Water is made of", "--target",
     " hydrogen and oxygen.", "--span-text", "oxygen", "--methods",
     "grad_l2", "greedy_word", "--check"],
    ["explain", "--prompt", "The capital of France is", "--target",
     " Paris.", "--foil", " Rome.", "--methods", "loo_word"],
    ["batch", "--dataset", "prompts.jsonl", "--out", "results.jsonl"],
    ["compare", "--dataset", "versions.yaml"],
    ["serve", "--max_length=16", "--max_new_tokens=64"],
]


def _run(argv: list[str], lm) -> str:
  out, err = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    cli.main(argv, lm=lm, stdout=out, stderr=io.StringIO())
  return out.getvalue() + err.getvalue()


def block(lm) -> str:
  """The examples as Markdown, each command with its output."""
  parts = [START]
  with tempfile.TemporaryDirectory() as folder:
    here = os.getcwd()
    os.chdir(folder)
    try:
      for name, text in FILES.items():
        pathlib.Path(name).write_text(text)
      for argv in COMMANDS:
        shown = []
        for name in FILES:
          if name in argv and name != "results.jsonl":
            shown += [f"$ cat {name}", FILES[name].rstrip("\n")]
        output = _run(argv, lm).rstrip("\n")
        parts.append("```console\n" + "\n".join(
            shown + [f"$ lit-gemma {shlex.join(argv)}", output]) + "\n```")
    finally:
      os.chdir(here)
  parts.append(END)
  return "\n\n".join(parts)


def readme_block(text: str) -> str:
  """The examples block as README.md holds it."""
  start, end = text.index(START), text.index(END) + len(END)
  return text[start:end]


def main() -> None:
  from lit_gemma.models import loading  # pylint: disable=g-import-not-at-top

  text = block(loading.load_model("embedded"))
  if "--write" in sys.argv[1:]:
    readme = README.read_text()
    README.write_text(readme.replace(readme_block(readme), text))
  else:
    print(text)


if __name__ == "__main__":
  main()
