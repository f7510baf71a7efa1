"""The command line on the real embedded Gemma 3 270M: the README's examples
are its real output, and `explain` gives the LIT salience model's numbers."""

import io
import pathlib
import sys

import numpy as np
import pytest

from lit_gemma import cli
from lit_gemma import explain
from lit_gemma import lm as lm_lib
from lit_gemma import models

pytestmark = pytest.mark.real_model
ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gemma(embedded_lm):
  return lm_lib.GemmaLM(embedded_lm)


def test_readme_examples_are_the_real_output(gemma):
  sys.path.insert(0, str(ROOT / "scripts"))
  try:
    import readme_cli_examples  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.remove(str(ROOT / "scripts"))
  readme = (ROOT / "README.md").read_text()
  assert readme_cli_examples.readme_block(readme) == (
      readme_cli_examples.block(gemma)), (
          "README.md's command-line examples are stale: run "
          "python scripts/readme_cli_examples.py --write")


def test_explain_equals_explain_and_the_lit_salience_model(gemma):
  # explain() itself is checked against the backbone's own gradient in
  # test_explain.py; the CLI must give exactly its numbers.
  out = io.StringIO()
  assert cli.main(["explain", "--prompt", "Water is made of", "--target",
                   " hydrogen and oxygen.", "--span-text", "oxygen",
                   "--format", "json"], lm=gemma, stdout=out) == 0
  exp = explain.Explanation.from_json(out.getvalue())
  assert exp.tokens == ["Water", "▁is", "▁made", "▁of", "▁hydrogen", "▁and",
                        "▁oxygen", "."]
  assert exp.target_mask.tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
  lit = list(models.SalienceModel(gemma, models.GroupSettings()).predict(
      [{"prompt": exp.prompt, "target": exp.target,
        "target_mask": exp.target_mask.tolist()}]))[0]
  for method, scores in exp.scores.items():
    np.testing.assert_allclose(scores, lit[method], rtol=1e-6, atol=1e-7)
    assert np.abs(scores[:6]).min() > 0

