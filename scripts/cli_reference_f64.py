"""Writes tests/data/cli_explain_f64.json: float64 salience of one explain
command on the embedded Gemma 3 270M, through keras-hub's own functional
backbone in float64 (tests/backbone_reference.py), not through the salience
engine. tests/test_cli_real.py checks the CLI's float32 numbers against it.

  JAX_ENABLE_X64=1 .venv/bin/python scripts/cli_reference_f64.py
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("JAX_ENABLE_X64", "1")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

# pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma import lm as lm_lib  # first: selects Keras' JAX backend
from lit_gemma import sources
import jax
import keras_hub
import numpy as np

import backbone_reference

OUT = ROOT / "tests" / "data" / "cli_explain_f64.json"
PROMPT, TARGET, SPAN = "Water is made of", " hydrogen and oxygen.", "oxygen"


class _Task:
  def __init__(self, backbone):
    self.backbone = backbone


def main() -> None:
  assert jax.config.jax_enable_x64, "run with JAX_ENABLE_X64=1"
  source = sources.resolve(sources.EMBEDDED)
  backbone = keras_hub.models.Gemma3Backbone.from_preset(
      source.preset, dtype="float64")
  lm = lm_lib.GemmaLM.load(sources.EMBEDDED)  # tokens only
  ids = [int(i) for i in lm.text_ids(PROMPT, TARGET)]
  tokens = lm.shown_tokens(PROMPT, TARGET)
  assert len(set(ids)) == len(ids), "the reference needs distinct tokens"
  shown_mask = [1.0 if tok == "▁" + SPAN else 0.0 for tok in tokens]
  assert sum(shown_mask) == 1
  grads, rows = backbone_reference.backbone_gradient(
      _Task(backbone), ids, [0.0] + shown_mask)
  assert grads.dtype == np.float64
  grads, rows = grads[1:], rows[1:]  # BOS is never shown
  OUT.write_text(json.dumps({
      "what": "float64 salience of `lit-gemma explain --prompt PROMPT "
              "--target TARGET --span-text SPAN` on the embedded Gemma 3 "
              "270M, through keras-hub's functional backbone in float64 "
              "(scripts/cli_reference_f64.py)",
      "prompt": PROMPT, "target": TARGET, "span_text": SPAN,
      "ids": ids, "tokens": tokens, "target_mask": shown_mask,
      "grad_l2": np.linalg.norm(grads, axis=-1).tolist(),
      "grad_dot_input": (grads * rows).sum(-1).tolist(),
  }, indent=1) + "\n")
  print(f"wrote {OUT}")


if __name__ == "__main__":
  main()
