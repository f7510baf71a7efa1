"""Ablation: how much the target's log-likelihood falls when one segment of
the prompt is removed, the model's actual behaviour against which a
gradient map is judged (faithfulness.py).

For a segmentation of the prompt at a granularity (the same segments
`Explanation.segments` shows, `part` included), each segment's characters
are cut out of the prompt and the explained target tokens are scored again
(`GemmaLM.score_batch`: all ablated prompts of a text in batched forward
passes). A segment's drop is

    drop = log p(explained target | prompt) - log p(... | prompt without it)

so a segment the target relies on has a positive drop.

    abl = ablation.ablate(lm, exp, "word")
    abl.drops            # one float per prompt segment
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lit_gemma import errors
from lit_gemma.explain import segments as segments_lib

if TYPE_CHECKING:
  from lit_gemma.explain import explanation as explanation_lib
  from lit_gemma.models import lm as lm_lib


class AblationError(errors.UserError):
  """A text that cannot be ablated; the message says why."""


@dataclasses.dataclass(frozen=True, eq=False)
class Ablation:
  """Drops in the explained target's log-likelihood, one per segment.

  Attributes:
    granularity: how the prompt was cut.
    segments: the prompt's segments, in order.
    base: log-likelihood of the explained target tokens, whole prompt.
    ablated: the same with each segment removed.
  """

  granularity: str
  segments: tuple[segments_lib.Segment, ...]
  base: float
  ablated: np.ndarray

  @property
  def drops(self) -> np.ndarray:
    return self.base - self.ablated


def prompt_segments(exp: "explanation_lib.Explanation", granularity: str,
                    method: str | None = None
                    ) -> list[segments_lib.Segment]:
  """The segments of the prompt at `granularity` (scores of `method`)."""
  return [s for s in exp.segments(granularity, method or exp.methods[0])
          if s.part == segments_lib.PROMPT]


def char_spans(exp: "explanation_lib.Explanation",
               segments: Sequence[segments_lib.Segment]
               ) -> list[tuple[int, int]]:
  """(start, end) characters of the prompt each segment covers."""
  shown = [t.replace(segments_lib.SPM_SPACE, " ") for t in exp.tokens]
  if "".join(shown[: exp.prompt_tokens]) != exp.prompt.replace(
      segments_lib.SPM_SPACE, " "):
    raise AblationError(
        "the prompt's tokens do not spell the prompt, so its segments cannot "
        "be cut out of it")
  ends = np.cumsum([0] + [len(t) for t in shown])
  return [(int(ends[s.start]), int(ends[min(s.end, exp.prompt_tokens)]))
          for s in segments]


def without(prompt: str, spans: Iterable[tuple[int, int]]) -> str:
  """`prompt` with the characters of `spans` cut out."""
  keep = np.ones(len(prompt), bool)
  for start, end in spans:
    keep[start:end] = False
  return "".join(c for c, k in zip(prompt, keep) if k)


def log_likelihoods(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
                    prompts: Sequence[str],
                    max_length: int | None = None) -> np.ndarray:
  """log p(explained target tokens | prompt) for each prompt, batched."""
  mask = np.asarray(exp.target_mask[exp.prompt_tokens:], np.float64)
  outs = lm.score_batch([(p, exp.target) for p in prompts], max_length)
  values = []
  for prompt, out in zip(prompts, outs):
    if len(out) != len(mask):
      raise AblationError(
          f"after the prompt {prompt[-30:]!r} the target is {len(out)} "
          f"tokens, not {len(mask)}: its first token merges with the "
          f"prompt; start the target at a word boundary")
    values.append(float(np.dot(out.astype(np.float64), mask)))
  return np.asarray(values, np.float64)


def ablate(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
           granularity: str = "word",
           max_length: int | None = None) -> Ablation:
  """The drop of each prompt segment at `granularity`, in batched calls."""
  segments = prompt_segments(exp, granularity)
  spans = char_spans(exp, segments)
  values = log_likelihoods(
      lm, exp, [exp.prompt] + [without(exp.prompt, [s]) for s in spans],
      max_length)
  return Ablation(granularity, tuple(segments), float(values[0]), values[1:])
