"""One loaded Gemma, shared by the LIT wrappers, the notebook and the CLI:
tokenization, greedy generation, mean embeddings and the salience engine.

Tokenization runs the model's own SentencePiece proto through the
`sentencepiece` library directly (the same ids keras-hub's tokenizer gives,
without a TensorFlow call per request). Generation uses keras-hub's compiled
greedy loop on padded, bucketed shapes so a new prompt length rarely
compiles anything.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import lit_gemma  # noqa: F401  (selects the JAX backend before Keras)
import jax.numpy as jnp
import keras
import keras_hub
import numpy as np
import sentencepiece

from lit_gemma import sources
from lit_gemma import tokens as tokens_lib
from lit_gemma.salience import buckets
from lit_gemma.salience import engine as engine_lib

END_OF_TURN = "<end_of_turn>"
# Rows per compiled generation call: decoding is memory-bound on CPU (the
# 262k-row output projection is read once per step, whatever the rows), so
# more rows cost little until compute dominates.
GENERATION_ROWS = (1, 4, 16)


class _GreedyUpTo(keras_hub.samplers.GreedySampler):
  """Greedy decoding that stops once every row has `max_new_tokens` new
  tokens. keras-hub's own loop runs on to the padded length."""

  def __init__(self, max_new_tokens: int, **kwargs):
    super().__init__(**kwargs)
    self.max_new_tokens = max_new_tokens

  def run_loop(self, cond, body, model=None, loop_vars=None,
               maximum_iterations=None):
    _, _, index, mask = loop_vars
    longest = keras.ops.max(keras.ops.sum(keras.ops.cast(mask, "int32"), -1))
    maximum_iterations = keras.ops.minimum(
        maximum_iterations, longest + self.max_new_tokens - index)
    return super().run_loop(cond, body, model=model, loop_vars=loop_vars,
                            maximum_iterations=maximum_iterations)


class GemmaLM:
  """A keras-hub Gemma causal LM with what prompt debugging needs.

  Thread-safe, for a server's request threads: generation runs under this
  object's lock (it recompiles keras-hub's sampler when max_new_tokens
  changes) and salience under the engine's. The two may run at once: they
  only read the shared weights, and a long generation for the data table
  should not hold up a salience click. Tokenization is stateless.
  """

  def __init__(self, causal_lm, source: sources.ModelSource | None = None,
               **engine_options):
    self.causal_lm = causal_lm
    self.source = source
    self.identity = source.identity if source else f"in-memory:{id(causal_lm)}"
    tokenizer = causal_lm.preprocessor.tokenizer
    self._sp = sentencepiece.SentencePieceProcessor(
        model_proto=tokenizer.proto)
    self.bos_id = int(tokenizer.start_token_id)
    self.eos_id = int(tokenizer.end_token_id)
    self.pad_id = int(tokenizer.pad_token_id)
    self.stop_ids = (self.eos_id,)
    end_of_turn = self._sp.piece_to_id(END_OF_TURN)
    if self._sp.id_to_piece(end_of_turn) == END_OF_TURN:
      self.stop_ids += (int(end_of_turn),)
    self.engine = engine_lib.SalienceEngine(
        causal_lm.backbone, pad_id=self.pad_id,
        final_logit_cap=getattr(causal_lm, "final_logit_cap", None),
        **engine_options)
    self._generate = None
    self._generate_max_new = None
    self._table = np.asarray(causal_lm.backbone.token_embedding.embeddings
                             .value)  # a view, not a copy
    self._lock = threading.Lock()

  @classmethod
  def load(cls, spec: str, precision: str = "float32", **kwargs) -> "GemmaLM":
    causal_lm, source = sources.load_causal_lm(spec, dtype=precision)
    return cls(causal_lm, source, **kwargs)

  # ------------------------------------------------------------ tokens

  def encode(self, text: str) -> list[int]:
    """Token ids with BOS, as the model sees `text`."""
    return [self.bos_id] + list(self._sp.encode(text))

  def decode(self, ids: Sequence[int]) -> str:
    return self._sp.decode([int(i) for i in ids])

  def token_strings(self, ids: Sequence[int]) -> list[str]:
    """Display strings for `ids` (see tokens.py)."""
    return tokens_lib.display_tokens(
        [self._sp.id_to_piece(int(i)) for i in ids])

  # -------------------------------------------------------- generation

  def generate_ids(self, prompts: Sequence[Sequence[int]],
                   max_new_tokens: int) -> list[list[int]]:
    """Greedy continuations (new ids only, without the stop token).

    Prompts are generated in order of length, so that rows in one call
    start close together and the loop runs few steps beyond what the
    longest row needs.
    """
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[list[int]] = [[] for _ in prompts]
    most = GENERATION_ROWS[-1]
    for start in range(0, len(order), most):
      chunk = order[start : start + most]
      for i, ids in zip(chunk, self._generate_rows(
          [prompts[i] for i in chunk], max_new_tokens)):
        results[i] = ids
    return results

  def _generate_rows(self, prompts, max_new_tokens: int) -> list[list[int]]:
    longest = max(len(p) for p in prompts)
    length = buckets.sequence_bucket(longest + max_new_tokens)
    rows = next(r for r in GENERATION_ROWS if r >= len(prompts))
    token_ids, padding = buckets.pad_rows(prompts, rows, length, self.pad_id)
    with self._lock:
      if self._generate_max_new != max_new_tokens:
        self.causal_lm.compile(sampler=_GreedyUpTo(max_new_tokens))
        self._generate = self.causal_lm.make_generate_function()
        self._generate_max_new = max_new_tokens
      out = self._generate(
          {"token_ids": jnp.asarray(token_ids),
           "padding_mask": jnp.asarray(padding, bool)},
          stop_token_ids=self.stop_ids)
    out_ids = np.asarray(out["token_ids"])
    results = []
    for row, prompt in enumerate(prompts):
      new = out_ids[row, len(prompt) : len(prompt) + max_new_tokens].tolist()
      stops = [i for i, t in enumerate(new) if t in self.stop_ids]
      results.append(new[: stops[0]] if stops else new)
    return results

  def generate(self, prompts: Sequence[str], max_new_tokens: int) -> list[str]:
    """Greedy continuations of `prompts`, new text only."""
    new_ids = self.generate_ids([self.encode(p) for p in prompts],
                                max_new_tokens)
    return [self.decode(ids) for ids in new_ids]

  # -------------------------------------------------------- embeddings

  def mean_embedding(self, ids: Sequence[int]) -> np.ndarray:
    """Mean of the raw embedding rows of `ids` (zeros for no tokens)."""
    if not len(ids):
      return np.zeros(self._table.shape[1], np.float32)
    return self._table[np.asarray(ids)].astype(np.float32).mean(axis=0)
