"""JAX's persistent compilation cache: a restart reuses compiled programs."""

import json
import os
import subprocess
import sys

_CHILD = r"""
import json, sys
import jax, numpy as np
from lit_gemma.models import sources
from lit_gemma.salience import compilation, engine as engine_lib
events = []
jax.monitoring.register_event_listener(
    lambda event, **kw: events.append(event))
compilation.enable_persistent_cache(min_compile_seconds=0)
causal_lm, _ = sources.load_causal_lm(sys.argv[1])
engine = engine_lib.SalienceEngine(causal_lm.backbone)
ids = [2] + list(range(10, 40))
mask = np.zeros(len(ids)); mask[-4:] = 1
del events[:]
engine.salience([ids], [mask])
mask = np.zeros(len(ids)); mask[5:9] = 1
engine.salience([ids], [mask])
print(json.dumps({
    "misses": events.count("/jax/compilation_cache/cache_misses"),
    "hits": events.count("/jax/compilation_cache/cache_hits")}))
"""


def _run(preset, cache):
  env = dict(os.environ, LIT_GEMMA_CACHE=str(cache))
  out = subprocess.run([sys.executable, "-c", _CHILD, str(preset)], env=env,
                       capture_output=True, text=True, check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


def test_restart_compiles_nothing_already_compiled(tiny_presets, tmp_path):
  preset = tiny_presets["gemma3"]
  first = _run(preset, tmp_path)
  assert first["misses"] >= 2  # the salience step and the span step
  assert any((tmp_path / "jax").iterdir())
  second = _run(preset, tmp_path)
  assert second["misses"] == 0
  assert second["hits"] >= 2
