"""Ablation: how much the target's log-likelihood falls when one segment of
the prompt is removed, the model's actual behaviour against which a
gradient map is judged (faithfulness.py).

For a segmentation of the prompt at a granularity (the same segments
`Explanation.segments` shows, `part` included), each segment's characters
are cut out of the prompt and the explained target tokens are scored again
(`GemmaLM.score_batch`: all ablated prompts of a text in batched forward
passes). A segment's drop is

    drop = log p(explained target | prompt) - log p(... | prompt without it)

so a segment the target relies on has a positive drop. With a foil (a
contrastive explanation) the measure is log p(target span | prompt) -
log p(foil | prompt), and a drop is that difference's.

Every scored (prompt, continuation) keeps its per-token log-probabilities
for the model (`VariantRows`): the deletion test, leave-one-out maps of
every span and granularity, and the UI's clicks share them, so a variant is
scored once.

    abl = ablation.ablate(lm, exp, "word")
    abl.drops            # one float per prompt segment
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
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
  """The segments of the prompt at `granularity` (scores of `method`; all
  0 for an explanation without scores)."""
  if method is None and not exp.methods:
    found = exp.segments_of(granularity, np.zeros(len(exp.tokens)))
  else:
    found = exp.segments(granularity, method or exp.methods[0])
  return [s for s in found if s.part == segments_lib.PROMPT]


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


class VariantRows:
  """log p(token | prefix) of a continuation's tokens after each scored
  prompt, for one model: least recently used dropped past `max_entries`."""

  def __init__(self, max_entries: int = 16_384):
    self.max_entries = max_entries
    self._rows: collections.OrderedDict[tuple[str, str], np.ndarray] = (
        collections.OrderedDict())
    self._lock = threading.Lock()

  def get(self, key):
    with self._lock:
      found = self._rows.get(key)
      if found is not None:
        self._rows.move_to_end(key)
      return found

  def put(self, key, row: np.ndarray) -> None:
    with self._lock:
      self._rows[key] = row
      self._rows.move_to_end(key)
      while len(self._rows) > self.max_entries:
        self._rows.popitem(last=False)

  def __len__(self) -> int:
    with self._lock:
      return len(self._rows)

  def clear(self) -> None:
    with self._lock:
      self._rows.clear()


_ROWS: "weakref.WeakKeyDictionary[object, VariantRows]" = (
    weakref.WeakKeyDictionary())
_ROWS_LOCK = threading.Lock()
Progress = Callable[[int, int], None]  # (variants scored, variants to score)


def rows_of(lm) -> VariantRows:
  """The model's kept variant rows."""
  with _ROWS_LOCK:
    if lm not in _ROWS:
      _ROWS[lm] = VariantRows()
    return _ROWS[lm]


def continuation_rows(lm: "lm_lib.GemmaLM", prompts: Sequence[str],
                      continuation: str, max_length: int | None = None,
                      progress: Progress | None = None) -> list[np.ndarray]:
  """Per-token log-probabilities of `continuation` after each prompt: kept
  ones reused, the rest scored in batched calls."""
  kept = rows_of(lm)
  found = [kept.get((p, continuation)) for p in prompts]
  todo = list(dict.fromkeys(p for p, row in zip(prompts, found)
                            if row is None))
  step = max(lm.engine.max_batch, 1)
  for start in range(0, len(todo), step):
    chunk = todo[start : start + step]
    for prompt, row in zip(chunk, lm.score_batch(
        [(p, continuation) for p in chunk], max_length)):
      kept.put((prompt, continuation), row.astype(np.float64))
    if progress is not None:
      progress(start + len(chunk), len(todo))
  return [row if row is not None else kept.get((p, continuation))
          for p, row in zip(prompts, found)]


def unkept(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
           prompts: Iterable[str]) -> int:
  """How many rows log_likelihoods() would score for `prompts`: (prompt,
  target), and (prompt, foil) with a foil, not kept for the model."""
  kept = rows_of(lm)
  texts = [exp.target] + ([exp.foil] if exp.foil else [])
  return sum(kept.get((p, t)) is None for p in set(prompts) for t in texts)


def _summed(prompts, rows, mask, what: str) -> np.ndarray:
  values = []
  for prompt, row in zip(prompts, rows):
    if len(row) != len(mask):
      raise AblationError(
          f"after the prompt {prompt[-30:]!r} the {what} is {len(row)} "
          f"tokens, not {len(mask)}: its first token merges with the "
          f"prompt; start the {what} at a word boundary")
    values.append(float(np.dot(row, mask)))
  return np.asarray(values, np.float64)


def log_likelihoods(lm: "lm_lib.GemmaLM", exp: "explanation_lib.Explanation",
                    prompts: Sequence[str], max_length: int | None = None,
                    progress: Progress | None = None) -> np.ndarray:
  """log p(explained target tokens | prompt) for each prompt, minus
  log p(foil | prompt) when `exp` has a foil; batched, kept rows reused."""
  mask = np.asarray(exp.target_mask[exp.prompt_tokens:], np.float64)
  values = _summed(prompts, continuation_rows(lm, prompts, exp.target,
                                              max_length, progress),
                   mask, "target")
  if exp.foil:
    count = len(lm.encode(exp.prompt + exp.foil)) - len(lm.encode(exp.prompt))
    rows = continuation_rows(lm, prompts, exp.foil, max_length, progress)
    values -= _summed(prompts, rows, np.ones(count), "foil")
  return values


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
