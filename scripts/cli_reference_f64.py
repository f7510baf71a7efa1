"""Writes tests/data/cli_reference_f64.json: float64 salience of a few
`lit-gemma explain` commands on the embedded Gemma 3 270M, the truth that
tests/cli/test_cli_real.py holds the CLI's float32 numbers to.

Independent of the product: the forward pass is written here in plain JAX
(not the salience engine, not keras-hub's layers, whose RMSNorm computes in
float32 whatever the dtype), the weights are read straight from the
converted preset's model.weights.h5 and the tokens from its SentencePiece
file. The weights are ARGUMENTS of the compiled function: closed over, XLA
would embed 2 GB of float64 constants and the compile would take >13 GB.

  .venv/bin/python scripts/cli_reference_f64.py   # peak RSS is printed
"""

import json
import pathlib
import platform
import resource
import sys

import jax

jax.config.update("jax_enable_x64", True)  # this process only

# pylint: disable=g-import-not-at-top,wrong-import-position
import h5py
import jax.numpy as jnp
import numpy as np
import sentencepiece

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lit_gemma.models.gguf import embedded  # the preset folder; imports no Keras

OUT = ROOT / "tests" / "data" / "cli_reference_f64.json"
F64 = jnp.float64

# (prompt, target, span as `--span START:END` over target tokens, or None):
# at most 16 tokens with BOS, the engine's smallest bucket, so that the test
# reuses the programs the other tests in its module compile.
EXAMPLES = (
    ("The capital of France is Paris. The capital of Italy is", " Rome.",
     (0, 1)),
    ("Translate to French: The cat sleeps. French:", " Le chat dort.", None),
)


def _rms(x, scale, eps):
  """Gemma 1-3 RMSNorm: x / rms(x) * (1 + scale)."""
  return x / jnp.sqrt(jnp.mean(x * x, -1, keepdims=True) + eps) * (1 + scale)


def _rope(x, wavelength):
  """Rotary embedding of x (T, heads, h), halves rotated (rotate-half)."""
  t, _, h = x.shape
  inv = wavelength ** -(jnp.arange(0, h, 2, dtype=F64) / h)
  angle = jnp.arange(t, dtype=F64)[:, None] * inv[None]
  angle = jnp.concatenate([angle, angle], -1)[:, None, :]
  x1, x2 = jnp.split(x, 2, -1)
  return x * jnp.cos(angle) + jnp.concatenate([-x2, x1], -1) * jnp.sin(angle)


def _gelu_tanh(x):
  return 0.5 * x * (1 + jnp.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _block(x, w, cfg, is_global):
  eps, head_dim = cfg["layer_norm_epsilon"], cfg["head_dim"]
  wavelength = 1_000_000.0 if is_global else 10_000.0
  h = _rms(x, w["pre_attention_norm"], eps)
  q = _rms(jnp.einsum("td,ndh->tnh", h, w["query_dense"]), w["query_norm"], eps)
  k = _rms(jnp.einsum("td,kdh->tkh", h, w["key_dense"]), w["key_norm"], eps)
  v = jnp.einsum("td,kdh->tkh", h, w["value_dense"])
  q, k = _rope(q, wavelength), _rope(k, wavelength)
  group = q.shape[1] // k.shape[1]  # query heads per K/V head
  k, v = jnp.repeat(k, group, axis=1), jnp.repeat(v, group, axis=1)
  logits = jnp.einsum("tnh,snh->nts", q / np.sqrt(head_dim), k)
  t = x.shape[0]
  causal = jnp.tril(jnp.ones((t, t), bool))
  probs = jax.nn.softmax(jnp.where(causal, logits, -jnp.inf), -1)
  att = jnp.einsum("nts,snh->tnh", probs, v)
  att = jnp.einsum("tnh,nhd->td", att, w["output_dense"])
  x = x + _rms(att, w["post_attention_norm"], eps)
  h = _rms(x, w["pre_ffw_norm"], eps)
  ff = _gelu_tanh(h @ w["gating_ffw"]) * (h @ w["gating_ffw_2"])
  return x + _rms(ff @ w["ffw_linear"], w["post_ffw_norm"], eps)


def _loss(rows, layers, final_norm, table, labels, mask, cfg):
  """(L, log p of each next token): L = -sum of masked target log-probs.

  `rows` are the raw embedding rows of the input tokens; `table` enters
  only as the output projection, so d/d rows is the input path only."""
  x = rows * np.sqrt(cfg["hidden_dim"])
  for i, w in enumerate(layers):
    x = _block(x, w, cfg, is_global=i % 6 == 5)
  logits = _rms(x, final_norm, cfg["layer_norm_epsilon"]) @ table.T
  log_probs = jax.nn.log_softmax(logits[:-1], -1)
  picked = jnp.take_along_axis(log_probs, labels[:, None], -1)[:, 0]
  return -jnp.sum(picked * mask), picked


_GRAD = jax.jit(jax.value_and_grad(_loss, has_aux=True), static_argnums=6)


def _read(h5, name):
  return jnp.asarray(np.asarray(h5[name], np.float64))


def load_weights(preset: pathlib.Path):
  """(config, per-layer weight dicts, final norm, table), float64."""
  cfg = json.loads((preset / "config.json").read_text())["config"]
  assert cfg["num_layers"] == 18 and not cfg["attention_logit_soft_cap"]
  assert not cfg["final_logit_soft_cap"] and cfg["query_head_dim_normalize"]
  names = ("pre_attention_norm", "post_attention_norm", "pre_ffw_norm",
           "post_ffw_norm", "gating_ffw", "gating_ffw_2", "ffw_linear")
  attn = ("query_dense", "key_dense", "value_dense", "output_dense",
          "query_norm", "key_norm")
  layers = []
  with h5py.File(preset / "model.weights.h5", "r") as h5:
    for i in range(cfg["num_layers"]):
      base = "layers/gemma3_decoder_block" + (f"_{i}" if i else "")
      w = {n: _read(h5, f"{base}/{n}/vars/0") for n in names}
      w.update({n: _read(h5, f"{base}/attention/{n}/vars/0") for n in attn})
      layers.append(w)
    final_norm = _read(h5, "layers/rms_normalization/vars/0")
    table = _read(h5, "layers/reversible_embedding/vars/0")
  return cfg, layers, final_norm, table


def reference(example, sp, weights):
  prompt, target, span = example
  cfg, layers, final_norm, table = weights
  prompt_ids = [sp.bos_id()] + sp.encode(prompt)
  ids = [sp.bos_id()] + sp.encode(prompt + target)
  assert ids[:len(prompt_ids)] == prompt_ids, "prompt tokens change at the seam"
  assert len(ids) <= cfg["sliding_window_size"], "the window would bind"
  first = len(prompt_ids)  # index in `ids` of the first target token
  start, end = span or (0, len(ids) - first)
  mask = np.zeros(len(ids) - 1)  # over the labels ids[1:]
  mask[first - 1 + start:first - 1 + end] = 1
  pieces = [sp.id_to_piece(i) for i in ids[1:]]
  assert not any(p.startswith("<0x") for p in pieces), "byte pieces shown"
  rows = table[jnp.asarray(ids)]
  (loss, picked), grads = _GRAD(rows, layers, final_norm, table,
                                jnp.asarray(ids[1:]), jnp.asarray(mask),
                                _Config(cfg))
  grads, rows = np.asarray(grads)[1:], np.asarray(rows)[1:]  # BOS hidden
  assert grads.dtype == np.float64
  return {
      "prompt": prompt, "target": target,
      "cli_args": ["--span", f"{start}:{end}"] if span else [],
      "ids": ids, "tokens": pieces, "target_mask": mask.tolist(),
      "loss": float(loss),
      "target_log_probs": np.asarray(picked)[first - 1:].tolist(),
      "grad_l2": np.linalg.norm(grads, axis=-1).tolist(),
      "grad_dot_input": (grads * rows).sum(-1).tolist(),
  }


class _Config(dict):
  """A hashable config, so jit can take it as a static argument."""

  def __hash__(self):
    return hash(json.dumps(self, sort_keys=True))


def main() -> None:
  preset = embedded.embedded_preset()
  sp = sentencepiece.SentencePieceProcessor(
      model_file=str(preset / "assets" / "tokenizer" / "vocabulary.spm"))
  weights = load_weights(preset)
  examples = [reference(e, sp, weights) for e in EXAMPLES]
  converted = json.loads((preset / "lit_gemma_converted.json").read_text())
  OUT.write_text(json.dumps({
      "what": "float64 salience (DESIGN.md's definition; BOS hidden) of "
              "`lit-gemma explain --prompt P --target T [cli_args] --format "
              "json` on the embedded Gemma 3 270M, from a plain-JAX float64 "
              "forward pass independent of lit_gemma/salience",
      "command": " ".join([pathlib.Path(sys.executable).name] + sys.argv),
      "versions": {"python": platform.python_version(),
                   "jax": jax.__version__, "numpy": np.__version__,
                   "h5py": h5py.__version__,
                   "sentencepiece": sentencepiece.__version__},
      "model": {"preset": preset.name, "gguf_sha256": converted["sha256"]},
      "examples": examples,
  }, indent=1) + "\n")
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
  print(f"wrote {OUT} ({OUT.stat().st_size} bytes); peak RSS {peak:.2f} GB")


if __name__ == "__main__":
  main()
