"""Gemma's forward pass from raw embedding rows, as pure JAX functions.

Salience needs the gradient with respect to the token embeddings, but a
keras-hub backbone only accepts token ids, and `Gemma3CausalLM` has no
`score()` hook at all. Each family's forward class runs the backbone's *own*
layers (decoder blocks, final norm, tied output projection with its soft-cap)
with `stateless_call`, so attention, RoPE, sliding windows and norms stay
exactly keras-hub's while the weights become explicit, traceable arguments.

A token enters a model through one or more token-indexed tables (Gemma 4's E
models and Gemma 3n add a per-layer table), so `embed` returns a tuple of
raw rows, one per table, and `hidden` takes that tuple. This module holds
the shared contract, the registry `make_forward` dispatches on (filled
from the model layer's family records), and Gemma 1-3's class; other
families' classes live in their own modules.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lit_gemma.salience import attention_seam
from lit_gemma.salience import block_kinds
from lit_gemma.salience import long_text

Params = dict[str, Any]
Rows = tuple[jax.Array, ...]

_REGISTRY: dict[type, type["Forward"]] = {}


class UnsupportedBackboneError(TypeError):
  """The backbone is not a text-only causal Gemma decoder the engine knows."""


def register(*backbone_classes):
  """Class decorator: `make_forward` uses the class for these backbones.

  Each model family's record says which forward class its backbone runs;
  the model layer registers it here (lit_gemma/models/families/).
  """

  def decorate(forward_cls):
    for cls in backbone_classes:
      _REGISTRY[cls] = forward_cls
    return forward_cls

  return decorate


def make_forward(backbone, final_logit_cap: float | None = None) -> "Forward":
  """The forward class registered for `backbone`'s type, built on it.

  `final_logit_cap` is a task-level tanh cap on the logits (Gemma 4's
  causal LM has one beside the backbone's own soft-cap).
  """
  for cls in type(backbone).__mro__:
    if cls in _REGISTRY:
      return _REGISTRY[cls](backbone, final_logit_cap=final_logit_cap)
  known = sorted(c.__name__ for c in _REGISTRY)
  raise UnsupportedBackboneError(
      f"salience supports {', '.join(known)}, got {type(backbone).__name__}")


def check_supported(backbone) -> None:
  """Raises UnsupportedBackboneError unless some family takes `backbone`."""
  make_forward(backbone)


def check_text_causal(backbone) -> None:
  """Refuses encoders of other modalities and embedding (bidirectional)
  models, which every family's forward pass leaves out."""
  name = type(backbone).__name__
  for attribute in ("vision_encoder", "audio_encoder"):
    if getattr(backbone, attribute, None) is not None:
      kind = attribute.split("_")[0]
      raise UnsupportedBackboneError(
          f"{name} has a {kind} encoder; load the text-only model for "
          "salience")
  if getattr(backbone, "is_embedding_model", False) or getattr(
      backbone, "use_bidirectional_attention", False):
    raise UnsupportedBackboneError(
        f"{name} is an embedding model (bidirectional), not a causal LM")


def layer_state(layer):
  """A layer's (trainable, non-trainable) values, as stateless_call takes."""
  return ([v.value for v in layer.trainable_variables],
          [v.value for v in layer.non_trainable_variables])


def variable_index(layer, variable) -> int:
  """Position of `variable` among `layer`'s trainable variables."""
  return [v.path for v in layer.trainable_variables].index(variable.path)


class Forward:
  """Pure functions over a backbone's layers and weights.

  Every method takes `params` (see `params()`) as its first argument, so the
  functions can be jit-compiled once and reused without baking weights into
  the compiled program. Subclasses set `tables` (one name per token table,
  the main embedding first) and implement the abstract methods.
  """

  tables: tuple[str, ...] = ("token_embedding",)

  def __init__(self, backbone, final_logit_cap: float | None = None):
    self.backbone = backbone
    self.final_logit_cap = final_logit_cap

  @property
  def dtype(self):
    raise NotImplementedError

  def params(self) -> Params:
    """The current weights as a pytree of arrays (no copies)."""
    raise NotImplementedError

  def embed(self, params: Params, token_ids: jax.Array) -> Rows:
    """Raw rows of each token table (before any scale), one per table."""
    raise NotImplementedError

  def hidden(self, params: Params, rows: Rows,
             padding_mask: jax.Array) -> jax.Array:
    """Final-norm hidden states [batch, T, d] from raw rows [batch, T, *]."""
    raise NotImplementedError

  @property
  def layer_count(self) -> int:
    """Decoder blocks in the stack."""
    return len(self.backbone.transformer_layers)

  def hidden_at(self, params: Params, rows: Rows, padding_mask: jax.Array,
                depth: int) -> jax.Array:
    """Hidden states [batch, T, d] after the first `depth` blocks (no final
    norm), for text vectors that need not run the whole stack. A family
    without its own returns the final-norm states of the whole stack."""
    del depth
    return self.hidden(params, rows, padding_mask)

  def output_logits(self, params: Params, hidden: jax.Array) -> jax.Array:
    """The backbone's own logits (tied projection, its soft-cap)."""
    raise NotImplementedError

  def logits(self, params: Params, hidden: jax.Array) -> jax.Array:
    """Vocabulary logits for the given hidden rows, task cap included."""
    logits = self.output_logits(params, hidden)
    cap = self.final_logit_cap
    if cap is not None:
      logits = jnp.tanh(logits / cap) * cap
    return logits

  def full_logits(
      self, params: Params, token_ids: jax.Array, padding_mask: jax.Array
  ) -> jax.Array:
    """Logits at every position, as the backbone plus its LM head give them."""
    hidden = self.hidden(params, self.embed(params, token_ids), padding_mask)
    return self.logits(params, hidden)


def _block_impl(block, trainable, non_trainable, x, padding_mask):
  """One decoder block, rematerialized apart from its dot products (past
  the long-text threshold, apart from its projections: long_text.py)."""
  out, _ = block.stateless_call(trainable, non_trainable, x,
                                padding_mask=padding_mask)
  return out


_block_step = long_text.checkpoint_by_length(
    _block_impl, (0,), lambda *args: args[3].shape[1], carry_argnum=3,
    wrap=block_kinds.jit_per_kind, padding_argnum=4)


class GemmaForward(Forward):
  """Gemma 1, 2 and text-only Gemma 3: one token table scaled by sqrt(d)."""

  def __init__(self, backbone, final_logit_cap: float | None = None):
    check_text_causal(backbone)
    super().__init__(backbone, final_logit_cap)
    self.hidden_dim = int(backbone.hidden_dim)
    self.vocabulary_size = int(backbone.vocabulary_size)
    self._embedding = backbone.token_embedding
    self._blocks = list(backbone.transformer_layers)
    self._runners = block_kinds.representatives(self._blocks)
    attention_seam.install(self._blocks)
    self._final_norm = backbone.layer_norm
    self._table_index = variable_index(self._embedding,
                                       self._embedding.embeddings)

  @property
  def dtype(self):
    return self._embedding.embeddings.dtype

  def params(self) -> Params:
    return {
        "embedding": layer_state(self._embedding),
        "blocks": [layer_state(block) for block in self._blocks],
        "final_norm": layer_state(self._final_norm),
    }

  def embed(self, params: Params, token_ids: jax.Array) -> Rows:
    table = params["embedding"][0][self._table_index]
    return (jnp.take(table, token_ids, axis=0),)

  def hidden(self, params: Params, rows: Rows,
             padding_mask: jax.Array) -> jax.Array:
    """Final-norm hidden states from the raw rows (sqrt(d) scale inside).

    Under differentiation each block keeps only its matrix products for the
    backward pass and recomputes the cheap elementwise work (norms, RoPE,
    GELU): the kept VJP residuals shrink about 3.4x for about 5% more time
    on a span change.
    """
    (embeddings,) = rows
    scale = jnp.sqrt(jnp.asarray(self.hidden_dim, "float32"))
    x = embeddings * scale.astype(embeddings.dtype)
    for block, (trainable, non_trainable) in zip(
        self._runners, params["blocks"]
    ):
      x = _block_step(block, trainable, non_trainable, x, padding_mask)
    x, _ = self._final_norm.stateless_call(*params["final_norm"], x)
    return x

  def hidden_at(self, params: Params, rows: Rows, padding_mask: jax.Array,
                depth: int) -> jax.Array:
    (embeddings,) = rows
    scale = jnp.sqrt(jnp.asarray(self.hidden_dim, "float32"))
    x = embeddings * scale.astype(embeddings.dtype)
    for block, (trainable, non_trainable) in list(zip(
        self._runners, params["blocks"]))[:depth]:
      x = _block_step(block, trainable, non_trainable, x, padding_mask)
    return x

  def output_logits(self, params: Params, hidden: jax.Array) -> jax.Array:
    logits, _ = self._embedding.stateless_call(
        *params["embedding"], hidden, reverse=True
    )
    return logits
