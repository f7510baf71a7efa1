"""The command line on the real embedded Gemma 3 270M: the README's examples
are its real output, and `explain` gives the LIT salience model's numbers
and, within float32 error, the float64 reference's in tests/data."""

import io
import json
import sys

import numpy as np
import pytest

from lit_gemma.cli import main
from lit_gemma import explain
from lit_gemma.lit import model_groups
import repo

pytestmark = pytest.mark.real_model
ROOT = repo.ROOT


@pytest.fixture(scope="module")
def gemma(embedded_gemma):
  return embedded_gemma


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
  assert main.main(["explain", "--prompt", "Water is made of", "--target",
                   " hydrogen and oxygen.", "--span-text", "oxygen",
                   "--format", "json"], lm=gemma, stdout=out) == 0
  exp = explain.Explanation.from_json(out.getvalue())
  assert exp.tokens == ["Water", "▁is", "▁made", "▁of", "▁hydrogen", "▁and",
                        "▁oxygen", "."]
  assert exp.target_mask.tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
  lit = list(model_groups.SalienceModel(gemma, model_groups.GroupSettings()).predict(
      [{"prompt": exp.prompt, "target": exp.target,
        "target_mask": exp.target_mask.tolist()}]))[0]
  for method, scores in exp.scores.items():
    np.testing.assert_allclose(scores, lit[method], rtol=1e-6, atol=1e-7)
    assert np.abs(scores[:6]).min() > 0


# ---------------------------------------------- against a float64 reference
# tests/data/cli_reference_f64.json comes from scripts/cli_reference_f64.py:
# an independent float64 forward pass in plain JAX. float32 against float64
# differs by ~1e-5 relative L2 here; a real defect (a missed norm, the tied
# output path differentiated, a shifted mask) differs by far more. Its
# inputs fit the smallest bucket, so the programs compiled above serve.
_REFERENCE = json.loads(
    (ROOT / "tests" / "data" / "cli_reference_f64.json").read_text())
_REL_L2 = 1e-4


@pytest.mark.parametrize("ref", _REFERENCE["examples"],
                         ids=lambda ref: ref["target"].strip()[:12])
def test_explain_equals_the_float64_reference(gemma, ref):
  out = io.StringIO()
  assert main.main(["explain", "--prompt", ref["prompt"], "--target",
                   ref["target"], *ref["cli_args"], "--format", "json"],
                  lm=gemma, stdout=out) == 0
  exp = explain.Explanation.from_json(out.getvalue())
  assert exp.tokens == ref["tokens"]
  assert exp.target_mask.tolist() == ref["target_mask"]
  for method in ("grad_l2", "grad_dot_input"):
    want = np.asarray(ref[method])
    err = np.linalg.norm(exp.scores[method] - want) / np.linalg.norm(want)
    assert err < _REL_L2, (
        f"{method}: relative L2 {err:.2e} from the float64 reference")
