"""Run in a subprocess with two simulated CPU devices (test_distribution):
each model's salience and greedy generation on one device, then again with
`--distribution=model_parallel:2`; prints one JSON line of findings.

Usage: XLA_FLAGS=--xla_force_host_platform_device_count=2 \
  python distribution_check.py OUT_DIR PRESET_FOLDER...
(Gemma 4 models are built here and saved into OUT_DIR.)
"""

import json
import pathlib
import sys

import lit_gemma  # noqa: F401  (selects the JAX backend)
import jax
import numpy as np

from lit_gemma.models import distribution
from lit_gemma.models import loading
from lit_gemma.models import lm as lm_lib
from lit_gemma.models import keras_tasks

PROMPTS = ("The capital of France is",)
TARGET = " Paris. Water is made of hydrogen"
NEW_TOKENS = 6


def _run(lm):
  """(salience maps: fresh and a span change on the kept text; greedy ids)."""
  maps = [lm.salience(p, TARGET).scores for p in PROMPTS]
  spans = [lm.salience(PROMPTS[0], TARGET, span=(1, 3)).scores]
  ids = lm.generate_ids([lm.encode(p) for p in PROMPTS], NEW_TOKENS)
  return maps + spans, ids


def _gaps(lm, ids):
  """Top-two logit gaps along each greedy path (only asked on a mismatch)."""
  gaps = []
  for prompt, new in zip(PROMPTS, ids):
    text = lm.encode(prompt) + new
    logits = lm.engine.logits(text)[len(lm.encode(prompt)) - 1 : len(text) - 1]
    top = np.sort(logits, axis=-1)[:, -2:]
    gaps.append((top[:, 1] - top[:, 0]).tolist())
  return gaps


def _relative_l2(a, b):
  return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
  out = pathlib.Path(sys.argv[1])
  folders = {pathlib.Path(f).name: f for f in sys.argv[2:]}
  sys.path.insert(0, str(pathlib.Path(__file__).parent))
  import tiny_gemma4  # pylint: disable=g-import-not-at-top

  for name in ("moe",):
    folder = out / f"gemma4_{name}"
    keras_tasks.save_preset(tiny_gemma4.build_gemma4_causal_lm(name), str(folder))
    folders[f"gemma4_{name}"] = str(folder)

  single = {}
  for name, folder in folders.items():
    single[name] = _run(loading.load_model(folder))
  settings = loading.ModelSettings(distribution="model_parallel:2")
  report = {"devices": len(jax.devices())}
  for name, folder in folders.items():
    lm = loading.load_model(folder, settings)
    maps, ids = _run(lm)
    ref_maps, ref_ids = single[name]
    errors = [_relative_l2(m[k], r[k]) for m, r in zip(maps, ref_maps)
              for k in r]
    # Greedy tokens may differ only where the two best logits tie (1e-5).
    mismatched = [(row, i) for row, (a, b) in enumerate(zip(ids, ref_ids))
                  for i, (x, y) in enumerate(zip(a, b)) if x != y]
    first_diffs = {}
    for row, i in mismatched:
      first_diffs.setdefault(row, i)
    gaps = _gaps(lm, ids) if first_diffs else None
    untied = [(row, i) for row, i in first_diffs.items()
              if gaps[row][i] > 1e-5]
    backbone = lm.causal_lm.backbone
    ffw = [v for v in backbone.weights if v.path.endswith(
        ("ffw_gating/kernel", "ffw_linear/kernel", "mlp/down_proj/kernel"))]
    report[name] = {
        "sharded": distribution.sharded_weights(backbone),
        "ffw_devices": len(ffw[0].value.sharding.device_set),
        "ffw_replicated": ffw[0].value.sharding.is_fully_replicated,
        "kv_sharded": [p for p in distribution.sharded_weights(backbone)
                       if "/key/" in p or "/value/" in p],
        "max_relative_l2": max(errors),
        "maps": len(errors),
        "same_lengths": [len(a) == len(b) for a, b in zip(ids, ref_ids)],
        "untied_token_differences": untied,
    }
  print("RESULT " + json.dumps(report))


if __name__ == "__main__":
  main()
