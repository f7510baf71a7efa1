"""LIT model wrappers: one "model group" per loaded Gemma.

LIT's Sequence Salience module looks up three models for a model `NAME`:
`NAME` (generation), `_NAME_tokenizer` and `_NAME_salience`. All three share
one `GemmaLM`, so the weights are loaded once.

The tokens the UI sees are those of prompt + target, without the BOS token
the model is given first: BOS is never a target, and as an attention sink
its gradient is often the largest, which would set the colour scale and
darken whichever word shares its chip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from lit_nlp.api import model as lit_model
from lit_nlp.api import types as lit_types

from lit_gemma import lm as lm_lib
from lit_gemma import response_cache as response_cache_lib
from lit_gemma.salience import methods as methods_lib

PROMPT = "prompt"
TARGET = "target"
RESPONSE = "response"
TOKENS = "tokens"
TARGET_MASK = "target_mask"
PROMPT_EMBEDDINGS = "prompt_embeddings"
RESPONSE_EMBEDDINGS = "response_embeddings"

INPUT_SPEC: lit_types.Spec = {
    PROMPT: lit_types.TextSegment(),
    TARGET: lit_types.TextSegment(required=False),
}


def salience_name(name: str) -> str:
  return f"_{name}_salience"


def tokenizer_name(name: str) -> str:
  return f"_{name}_tokenizer"


class RequestError(ValueError):
  """A request the model refuses; the message is for the user."""


@dataclasses.dataclass(frozen=True)
class GroupSettings:
  """Settings shared by a model group.

  Attributes:
    max_length: most tokens (prompt + target, BOS included) a request may
      have; longer ones are refused with the count and the limit.
    max_new_tokens: most tokens generated per response.
    batch_size: most examples per compiled call.
    embeddings: whether generation also returns mean prompt and response
      embeddings (for LIT's embedding projector).
  """

  max_length: int = 1024
  max_new_tokens: int = 64
  batch_size: int = 8
  embeddings: bool = True


class _GroupMember(lit_model.BatchedModel):
  """Shared plumbing: the loaded model, settings and the input spec."""

  def __init__(self, lm: lm_lib.GemmaLM, settings: GroupSettings):
    self.lm = lm
    self.settings = settings

  def max_minibatch_size(self) -> int:
    return self.settings.batch_size

  @classmethod
  def init_spec(cls):
    return None  # needs a loaded model: not creatable from the UI

  def input_spec(self) -> lit_types.Spec:
    return dict(INPUT_SPEC)

  def description(self) -> str:
    source = self.lm.source.spec if self.lm.source else "in-memory model"
    return f"{type(self).__name__} over {source}"

  def _ids(self, example) -> list[int]:
    """Token ids of prompt + target after BOS, refused if over max_length."""
    text = example.get(PROMPT, "") + (example.get(TARGET) or "")
    ids = self.lm.encode(text)
    if len(ids) > self.settings.max_length:
      raise RequestError(
          f"prompt + target is {len(ids)} tokens, over the limit of "
          f"{self.settings.max_length} (--max_length)")
    return ids


class GenerationModel(_GroupMember):
  """Greedy generation; a dataset's own `response` is shown instead."""

  def __init__(self, lm, settings,
               response_cache: response_cache_lib.ResponseCache | None = None):
    super().__init__(lm, settings)
    self.response_cache = response_cache

  def max_minibatch_size(self) -> int:
    # Decoding is memory-bound: a full generation call costs about what one
    # row does, so hand the model as many rows as it generates at once.
    return max(self.settings.batch_size, lm_lib.GENERATION_ROWS[-1])

  def _generation_settings(self) -> dict:
    return {"max_new_tokens": self.settings.max_new_tokens,
            "sampler": "greedy", "stop_ids": list(self.lm.stop_ids)}

  def _responses(self, prompts: list[str]) -> list[str]:
    settings = self._generation_settings()
    cached = ([None] * len(prompts) if self.response_cache is None else
              self.response_cache.get_many(self.lm.identity, prompts, settings))
    todo = [i for i, r in enumerate(cached) if r is None]
    if todo:
      limit = self.settings.max_length - self.settings.max_new_tokens
      prompt_ids = []
      for i in todo:
        ids = self.lm.encode(prompts[i])
        if len(ids) > limit:
          raise RequestError(
              f"prompt is {len(ids)} tokens, over the limit of {limit} "
              f"(--max_length {self.settings.max_length} minus "
              f"--max_new_tokens {self.settings.max_new_tokens})")
        prompt_ids.append(ids)
      new_ids = self.lm.generate_ids(prompt_ids, self.settings.max_new_tokens)
      fresh = [self.lm.decode(ids) for ids in new_ids]
      for i, text in zip(todo, fresh):
        cached[i] = text
      if self.response_cache is not None:
        self.response_cache.put_many(
            self.lm.identity, [prompts[i] for i in todo], fresh, settings)
    return cached

  def predict_minibatch(self, inputs: list[dict]) -> list[dict]:
    prompts = [ex.get(PROMPT, "") for ex in inputs]
    given = [ex.get(RESPONSE) for ex in inputs]
    need = [i for i, r in enumerate(given) if not r]
    generated = self._responses([prompts[i] for i in need]) if need else []
    responses = list(given)
    for i, text in zip(need, generated):
      responses[i] = text
    outputs = [{RESPONSE: r} for r in responses]
    # hostile-clients hook: a given response is embedded too, so prompt +
    # response is bounded like prompt + target.
    for i, response in enumerate(given):
      if response and self.settings.embeddings:
        count = len(self.lm.encode(prompts[i] + response))
        if count > self.settings.max_length:
          raise RequestError(
              f"prompt + response is {count} tokens, over the limit of "
              f"{self.settings.max_length} (--max_length)")
    if self.settings.embeddings:
      for out, prompt, response in zip(outputs, prompts, responses):
        out[PROMPT_EMBEDDINGS] = self.lm.mean_embedding(
            self.lm.encode(prompt)[1:])
        out[RESPONSE_EMBEDDINGS] = self.lm.mean_embedding(
            self.lm.encode(response)[1:])
    return outputs

  def output_spec(self) -> lit_types.Spec:
    spec = {RESPONSE: lit_types.GeneratedText(parent=TARGET)}
    if self.settings.embeddings:
      spec[PROMPT_EMBEDDINGS] = lit_types.Embeddings(required=False)
      spec[RESPONSE_EMBEDDINGS] = lit_types.Embeddings(required=False)
    return spec


class TokenizerModel(_GroupMember):
  """Tokens of prompt + target, as the salience model will score them."""

  def predict_minibatch(self, inputs: list[dict]) -> list[dict]:
    return [{TOKENS: self.lm.token_strings(self._ids(ex)[1:])}
            for ex in inputs]

  def output_spec(self) -> lit_types.Spec:
    return {TOKENS: lit_types.Tokens(parent="")}


class SalienceModel(_GroupMember):
  """Sequence salience of prompt + target tokens for a target mask.

  `target_mask` has one entry per token the tokenizer model shows (BOS not
  included). Without one, the target is every token after the prompt's.
  """

  def __init__(self, lm, settings,
               methods: Sequence[str] = methods_lib.DEFAULT_METHODS):
    super().__init__(lm, settings)
    self.methods = methods_lib.check_names(methods)
    unknown = set(self.methods) - set(lm.engine.methods)
    if unknown:
      raise ValueError(f"the engine does not compute {sorted(unknown)}")

  def input_spec(self) -> lit_types.Spec:
    return super().input_spec() | {
        TARGET_MASK: lit_types.TokenScores(align="", required=False)}

  def _mask(self, example, ids: list[int]) -> np.ndarray:
    """The mask over `ids` (BOS first, never a target)."""
    mask = np.zeros(len(ids), np.float32)
    given = example.get(TARGET_MASK)
    if given is None or len(given) == 0:
      mask[len(self.lm.encode(example.get(PROMPT, ""))):] = 1
    elif len(given) != len(ids) - 1:
      raise RequestError(
          f"target_mask has {len(given)} entries but prompt + target has "
          f"{len(ids) - 1} tokens")
    else:
      mask[1:] = given
    return mask

  def predict_minibatch(self, inputs: list[dict]) -> list[dict]:
    ids = [self._ids(ex) for ex in inputs]
    masks = [self._mask(ex, i) for ex, i in zip(inputs, ids)]
    maps = self.lm.engine.salience(ids, masks)
    return [
        {TOKENS: self.lm.token_strings(i[1:])}
        | {name: m[name][1:].tolist() for name in self.methods}
        for i, m in zip(ids, maps)
    ]

  def output_spec(self) -> lit_types.Spec:
    return {TOKENS: lit_types.Tokens(parent="")} | {
        name: lit_types.TokenScores(align=TOKENS) for name in self.methods}


def model_group(
    name: str,
    lm: lm_lib.GemmaLM,
    settings: GroupSettings = GroupSettings(),
    response_cache: response_cache_lib.ResponseCache | None = None,
) -> dict[str, lit_model.Model]:
  """`NAME`, `_NAME_tokenizer` and `_NAME_salience`, sharing `lm`."""
  return {
      name: GenerationModel(lm, settings, response_cache),
      tokenizer_name(name): TokenizerModel(lm, settings),
      salience_name(name): SalienceModel(lm, settings),
  }

