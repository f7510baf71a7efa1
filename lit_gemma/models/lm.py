"""One loaded Gemma, shared by the LIT wrappers, the notebook and the CLI:
tokenization, greedy generation, salience and scores of a (prompt, target),
and mean embeddings.

The rule every front end must share lives here: the model is given BOS
first, but BOS is never a target and is never shown, so a target mask is
aligned to the tokens of prompt + target *after* BOS, and without one the
target is every token after the prompt's own.

Tokenization runs the model's own SentencePiece proto through the
`sentencepiece` library directly (the same ids keras-hub's tokenizer gives,
without a TensorFlow call per request). Generation uses keras-hub's compiled
greedy loop on padded, bucketed shapes so a new prompt length rarely
compiles anything.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

import jax.numpy as jnp
import keras
import keras_hub
import numpy as np
import sentencepiece
from absl import logging

from lit_gemma import errors
from lit_gemma.models import families
from lit_gemma.models import memory_budget
from lit_gemma.models import gate
from lit_gemma.models import sources
from lit_gemma.models import keras_tasks
from lit_gemma.models import tokens as tokens_lib
from lit_gemma.salience import buckets
from lit_gemma.salience import engine as engine_lib
from lit_gemma.salience import integrated
from lit_gemma.salience import log_probs as log_probs_lib

END_OF_TURN = "<end_of_turn>"
# Every family's end-of-turn piece: Gemma 1-3 and 3n, then Gemma 4 (whose
# keras-hub task stops at `<turn|>`). Generation stops at whichever the
# model's vocabulary has.
END_OF_TURN_PIECES = (END_OF_TURN, "<turn|>")
# Rows per compiled generation call: decoding is memory-bound on CPU (the
# 262k-row output projection is read once per step, whatever the rows), so
# more rows cost little until compute dominates.
GENERATION_ROWS = (1, 4, 16)
# Most rows x padded length per generation call: keras-hub's prefill holds
# one layer's [rows, heads, T, T] scores, so long prompts go fewer at a time
# (16 rows of today's 1,024 tokens still go together).
GENERATION_TOKENS = memory_budget.GENERATION_TOKENS
Span = tuple[int, int]


@dataclasses.dataclass(frozen=True, eq=False)
class TokenSalience:
  """Salience of prompt + target for one target mask, as the UI shows it.

  Attributes:
    tokens: display tokens of prompt + target, BOS left out.
    scores: method name -> one float32 score per token.
    target_mask: 1.0 for each explained token, else 0.0.
    prompt_tokens: how many of `tokens` belong to the prompt (the default
      target starts there).
  """

  tokens: list[str]
  scores: dict[str, np.ndarray]
  target_mask: np.ndarray
  prompt_tokens: int


@dataclasses.dataclass(frozen=True)
class SalienceRequest:
  """One (prompt, target) to explain, with the target tokens to explain:
  `target_mask` over the shown tokens, or `span`, a (start, end) range of
  the target's own tokens; neither: the whole target."""

  prompt: str
  target: str = ""
  target_mask: Sequence[float] | None = None
  span: Span | None = None


def end_of_turn_ids(sp: sentencepiece.SentencePieceProcessor
                    ) -> tuple[int, ...]:
  """The ids of the end-of-turn pieces the vocabulary has."""
  ids = []
  for piece in END_OF_TURN_PIECES:
    i = sp.piece_to_id(piece)
    if sp.id_to_piece(i) == piece:
      ids.append(int(i))
  return tuple(ids)


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


def _token_table(backbone):
  """The main token-embedding layer (Gemma 3n keeps it in its text model)."""
  layer = getattr(backbone, "token_embedding", None)
  if layer is None:
    layer = backbone.language_model.embed_tokens.embedding
  return layer


class GemmaLM:
  """A keras-hub Gemma causal LM with what prompt debugging needs.

  Thread-safe, for a server's request threads: generation runs under this
  object's lock (it recompiles keras-hub's sampler when max_new_tokens
  changes) and salience under the engine's. Generation runs one call at a
  time as background work (models/gate.py), so a click waits for one call
  at most and never shares the CPU with the rest. Tokenization is
  stateless.
  """

  def __init__(self, causal_lm, source: sources.ModelSource | None = None,
               *, kept_bytes: int = 2 << 30, max_batch: int = 8,
               generation_rows: int = GENERATION_ROWS[-1]):
    """Wraps a loaded keras-hub causal LM.

    Args:
      causal_lm: a keras-hub Gemma causal LM with its tokenizer (keras_tasks.py).
      source: where it came from (None: built in memory).
      kept_bytes: most memory the salience engine keeps for recent texts.
      max_batch: most texts per compiled salience call.
      generation_rows: most prompts per compiled generation call.
    """
    self.causal_lm = causal_lm
    self.source = source
    # A stable name of the weights for on-disk caches; a model built in
    # memory has none (an object's address can repeat in another process).
    self.identity = source.identity if source else None
    self.generation_rows = max(int(generation_rows), 1)
    tokenizer = keras_tasks.tokenizer_of(causal_lm)
    self._sp = sentencepiece.SentencePieceProcessor(
        model_proto=tokenizer.proto)
    self.bos_id = int(tokenizer.start_token_id)
    self.eos_id = int(tokenizer.end_token_id)
    self.pad_id = int(tokenizer.pad_token_id)
    self.stop_ids = (self.eos_id,)
    self.stop_ids += end_of_turn_ids(self._sp)
    self._scorer = None  # Built on the first score (a compiled step).
    self._paths = None  # Built on the first path or contrastive map.
    families.register_forwards()
    self.engine = engine_lib.SalienceEngine(
        causal_lm.backbone, pad_id=self.pad_id, kept_bytes=kept_bytes,
        max_batch=max_batch,
        final_logit_cap=getattr(causal_lm, "final_logit_cap", None))
    self._generate = None
    self._generate_max_new = None
    self._table = np.asarray(_token_table(causal_lm.backbone).embeddings
                             .value)  # a view, not a copy
    # The turn markers this model's chat prompts use (its family's record;
    # the engine above refused a backbone no family names).
    self.chat_format = families.of_backbone(causal_lm.backbone).chat_format
    self._lock = threading.Lock()

  @classmethod
  def load(cls, spec: str, precision: str = "float32", **kwargs) -> "GemmaLM":
    """Loads a model source (see sources.py); `kwargs` as for __init__."""
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

  def text_ids(self, prompt: str, target: str = "",
               max_length: int | None = None) -> list[int]:
    """Ids of prompt + target with BOS; RequestError over `max_length`."""
    ids = self.encode(prompt + (target or ""))
    if max_length is not None and len(ids) > max_length:
      raise errors.RequestError(
          f"prompt + target is {len(ids)} tokens, over the limit of "
          f"{max_length} (--max_length)")
    return ids

  def shown_tokens(self, prompt: str, target: str = "",
                   max_length: int | None = None) -> list[str]:
    """The tokens of prompt + target the UI shows (BOS left out)."""
    return self.token_strings(self.text_ids(prompt, target, max_length)[1:])

  # ---------------------------------------------------------- salience

  def _shown_mask(self, request: SalienceRequest, ids: list[int]
                  ) -> tuple[np.ndarray, int]:
    """(mask over the shown tokens, prompt tokens shown) for `request`."""
    shown = len(ids) - 1
    prompt_tokens = min(len(self.encode(request.prompt)) - 1, shown)
    if request.target_mask is not None and len(request.target_mask):
      if request.span is not None:
        raise errors.RequestError("give a target_mask or a span, not both")
      mask = np.asarray(request.target_mask, np.float32).reshape(-1)
      if mask.shape[0] != shown:
        raise errors.RequestError(
            f"target_mask has {mask.shape[0]} entries but prompt + target "
            f"has {shown} tokens")
      return mask, prompt_tokens
    mask = np.zeros(shown, np.float32)
    if request.span is None:
      mask[prompt_tokens:] = 1
      return mask, prompt_tokens
    span = request.span
    target_tokens = shown - prompt_tokens
    if not (isinstance(span, (tuple, list)) and len(span) == 2 and all(
        isinstance(i, (int, np.integer)) for i in span) and
            0 <= span[0] < span[1] <= target_tokens):
      raise errors.RequestError(
          f"span {tuple(span) if isinstance(span, (tuple, list)) else span!r}"
          f" is not a token range of the target's {target_tokens} tokens "
          f"(0 <= start < end <= {target_tokens})")
    mask[prompt_tokens + int(span[0]) : prompt_tokens + int(span[1])] = 1
    return mask, prompt_tokens

  def salience_ids(self, token_ids: Sequence[Sequence[int]],
                   shown_masks: Sequence[Sequence[float]]
                   ) -> list[dict[str, np.ndarray]]:
    """Salience for token ids that start with BOS, each with a mask over
    the tokens after BOS; the scores leave BOS out too."""
    full = [np.concatenate([[0.0], np.asarray(m, np.float32)])
            for m in shown_masks]
    with gate.foreground() as window:
      maps = self.engine.salience(token_ids, full)
    if window.request:  # One line per request (none for background work).
      lengths = sorted({len(ids) for ids in token_ids})
      padded = sorted({buckets.sequence_bucket(n) for n in lengths})
      logging.info("lit-gemma: salience of %d text(s) of %s tokens, "
                   "bucket(s) %s %s", len(token_ids), lengths, padded,
                   window.summary())
    return [{name: scores[1:] for name, scores in m.items()} for m in maps]

  def salience_batch(self, requests: Sequence[SalienceRequest],
                     max_length: int | None = None) -> list[TokenSalience]:
    """Salience of several requests, batched in the engine's calls."""
    ids = [self.text_ids(r.prompt, r.target, max_length) for r in requests]
    masks = [self._shown_mask(r, i) for r, i in zip(requests, ids)]
    maps = self.salience_ids(ids, [m for m, _ in masks])
    return [TokenSalience(self.token_strings(i[1:]), m, mask, prompt_tokens)
            for i, m, (mask, prompt_tokens) in zip(ids, maps, masks)]

  def salience(self, prompt: str, target: str = "", *,
               target_mask: Sequence[float] | None = None,
               span: Span | None = None,
               max_length: int | None = None) -> TokenSalience:
    """Salience of `prompt` + `target` for the target tokens explained:
    `target_mask` (over the shown tokens), `span` (a (start, end) range of
    the target's tokens) or, with neither, the whole target."""
    return self.salience_batch(
        [SalienceRequest(prompt, target, target_mask, span)], max_length)[0]

  def score(self, prompt: str, target: str,
            max_length: int | None = None) -> np.ndarray:
    """log p(token | everything before it) for each target token, through
    the salience engine's forward pass (their sum is minus its loss)."""
    return self.score_batch([(prompt, target)], max_length)[0]

  def score_batch(self, pairs: Sequence[tuple[str, str]],
                  max_length: int | None = None) -> list[np.ndarray]:
    """score() of several (prompt, target) pairs, in batched forward
    passes (ablation scores one text with each segment removed)."""
    ids = [self.text_ids(p, t, max_length) for p, t in pairs]
    firsts = [len(self.encode(p)) for p, _ in pairs]
    if self._scorer is None:
      self._scorer = log_probs_lib.BatchScorer(self.engine)
    return self._scorer.log_probs(
        ids, [range(f, len(i)) for f, i in zip(firsts, ids)])

  def path_gradients(self) -> integrated.PathGradients:
    """Gradients along paths of embedding rows (integrated gradients,
    contrastive maps), sharing the engine."""
    if self._paths is None:
      self._paths = integrated.PathGradients(self.engine)
    return self._paths

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
    chunk: list[int] = []
    for n, i in enumerate(order):
      chunk.append(i)
      following = order[n + 1] if n + 1 < len(order) else None
      if following is None or not self._fits(
          [*chunk, following], prompts, max_new_tokens):
        for j, ids in zip(chunk, self._generate_rows(
            [prompts[j] for j in chunk], max_new_tokens)):
          results[j] = ids
        chunk = []
    return results

  def _rows_for(self, count: int) -> int:
    """Rows of the compiled call that generates `count` prompts."""
    return next((r for r in sorted({*GENERATION_ROWS, self.generation_rows})
                 if r >= count), count)

  def _fits(self, chunk, prompts, max_new_tokens: int) -> bool:
    """Whether `chunk` (ascending length) goes in one generation call."""
    if len(chunk) > self.generation_rows:
      return False
    length = buckets.sequence_bucket(len(prompts[chunk[-1]]) + max_new_tokens)
    return self._rows_for(len(chunk)) * length <= GENERATION_TOKENS

  def _generate_rows(self, prompts, max_new_tokens: int) -> list[list[int]]:
    longest = max(len(p) for p in prompts)
    length = buckets.sequence_bucket(longest + max_new_tokens)
    rows = self._rows_for(len(prompts))
    token_ids, padding = buckets.pad_rows(prompts, rows, length, self.pad_id)
    # Each call is a background unit: a click waits for one call at most,
    # even while the data table's request generates its responses.
    with gate.background(), self._lock:
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
