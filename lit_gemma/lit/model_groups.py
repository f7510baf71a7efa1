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

from lit_nlp.api import model as lit_model
from lit_nlp.api import types as lit_types

from lit_gemma.prompts import chat_formats
from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.models import lm as lm_lib
from lit_gemma.models import loading
from lit_gemma.lit import response_cache as response_cache_lib
from lit_gemma.fields import PROMPT
from lit_gemma.fields import PROMPT_EMBEDDINGS
from lit_gemma.fields import RESPONSE
from lit_gemma.fields import RESPONSE_EMBEDDINGS
from lit_gemma.fields import TARGET
from lit_gemma.fields import TARGET_MASK
from lit_gemma.fields import TOKENS
from lit_gemma.salience import methods as methods_lib

RequestError = errors.RequestError
salience_name = fields.salience_name
tokenizer_name = fields.tokenizer_name


@dataclasses.dataclass(frozen=True)
class GroupSettings:
  """Settings shared by a model group.

  Attributes:
    max_length: most tokens (prompt + target, BOS included) a request may
      have; longer ones are refused with the count and the limit.
    max_new_tokens: most tokens generated per response.
    batch_size: most examples LIT hands the tokenizer and salience models
      per call (the engine's own batches are set when the model loads).
    generation_batch_size: most prompts LIT hands the generation model per
      call.
    embeddings: whether generation also returns mean prompt and response
      embeddings (for LIT's embedding projector).
    own_responses: show a dataset's own `response` instead of generating
      one. Off when several checkpoints are served (a response recorded
      once is no checkpoint's own: comparing them must generate from
      each).
  """

  max_length: int = loading.DEFAULT_MAX_LENGTH
  max_new_tokens: int = 64
  batch_size: int = 8
  generation_batch_size: int = 16
  embeddings: bool = True
  own_responses: bool = True

  @classmethod
  def from_config(cls, config, **overrides) -> "GroupSettings":
    """The settings a server's `ServerConfig` gives its model groups (the
    server and `prepared_responses` share them, so their caches agree)."""
    return cls(max_length=config.max_length,
               max_new_tokens=config.max_new_tokens,
               batch_size=config.batch_size,
               generation_batch_size=config.generation_batch_size,
               **({"own_responses": len(config.models) < 2} | overrides))


class GroupMember(lit_model.BatchedModel):
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
    return fields.input_spec()

  def description(self) -> str:
    source = self.lm.source.spec if self.lm.source else "in-memory model"
    return f"{type(self).__name__} over {source}"

  def _text(self, example) -> tuple[str, str]:
    return example.get(PROMPT, ""), example.get(TARGET) or ""

  def _other_format(self, example) -> str | None:
    """Why this model should not answer `example` (a chat prompt written
    in another family's turn markers), or None."""
    return chat_formats.mismatch(example.get(chat_formats.FIELD),
                                 self.lm.chat_format)


class GenerationModel(GroupMember):
  """Greedy generation; a dataset's own `response` is shown instead."""

  def __init__(self, lm, settings,
               response_cache: response_cache_lib.ResponseCache | None = None):
    super().__init__(lm, settings)
    self.response_cache = response_cache

  def max_minibatch_size(self) -> int:
    # Decoding is memory-bound: a full generation call costs about what one
    # row does, so hand the model as many rows as it generates at once.
    return self.settings.generation_batch_size

  def generation_settings(self) -> dict:
    """What, besides the model and the prompt, the response depends on
    (it keys the response cache: the weights' dtype too, since a
    bfloat16 model's greedy answer can differ from the float32 one)."""
    return {"max_new_tokens": self.settings.max_new_tokens,
            "sampler": "greedy", "stop_ids": list(self.lm.stop_ids),
            "dtype": self.lm.causal_lm.backbone.dtype_policy.name}

  def responses(self, prompts: list[str]) -> list[str]:
    """Generated responses (never a dataset's own), from the response
    cache where it has them."""
    settings = self.generation_settings()
    # A model built in memory has no stable identity to key a disk cache.
    persistent = self.response_cache is not None and self.lm.identity
    cached = (self.response_cache.get_many(self.lm.identity, prompts, settings)
              if persistent else [None] * len(prompts))
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
      if persistent:
        self.response_cache.put_many(
            self.lm.identity, [prompts[i] for i in todo], fresh, settings)
    return cached

  def predict_minibatch(self, inputs: list[dict]) -> list[dict]:
    prompts = [ex.get(PROMPT, "") for ex in inputs]
    # A chat prompt in another model's format gets no response (the data
    # table shows why), rather than a response to the wrong turn markers.
    notes = [self._other_format(ex) for ex in inputs]
    use_own = self.settings.own_responses
    given = [f"({note})" if note else ex.get(RESPONSE) if use_own else None
             for note, ex in zip(notes, inputs)]
    need = [i for i, r in enumerate(given) if not r]
    generated = self.responses([prompts[i] for i in need]) if need else []
    responses = list(given)
    for i, text in zip(need, generated):
      responses[i] = text
    outputs = [{RESPONSE: r} for r in responses]
    # What is embedded without being generated (a client's own response, a
    # prompt in another chat format) is bounded like prompt + target.
    for i, ex in enumerate(inputs):
      own = "" if notes[i] or not use_own else (ex.get(RESPONSE) or "")
      if (own or notes[i]) and self.settings.embeddings:
        count = len(self.lm.encode(prompts[i] + own))
        if count > self.settings.max_length:
          what = "prompt + response" if own else "prompt"
          raise RequestError(
              f"{what} is {count} tokens, over the limit of "
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


class TokenizerModel(GroupMember):
  """Tokens of prompt + target, as the salience model will score them."""

  def predict_minibatch(self, inputs: list[dict]) -> list[dict]:
    return [{TOKENS: self.lm.shown_tokens(*self._text(ex),
                                          self.settings.max_length)}
            for ex in inputs]

  def output_spec(self) -> lit_types.Spec:
    return {TOKENS: lit_types.Tokens(parent="")}


class SalienceModel(GroupMember):
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

  def predict_minibatch(self, inputs: list[dict]) -> list[dict]:
    for ex in inputs:
      if note := self._other_format(ex):
        raise RequestError(note)
    requests = [lm_lib.SalienceRequest(*self._text(ex),
                                       target_mask=ex.get(TARGET_MASK))
                for ex in inputs]
    results = self.lm.salience_batch(requests, self.settings.max_length)
    return [{TOKENS: r.tokens} | {name: r.scores[name].tolist()
                                   for name in self.methods}
            for r in results]

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

