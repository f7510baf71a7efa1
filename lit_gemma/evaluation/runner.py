"""Evaluating one checkpoint on a dataset's evaluation rows: generate each
row's response, score its target (and its foil or paired response), and
measure (measures.py). `evaluate` and `regressions` run this; the LIT UI's
evaluation columns measure row by row the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import tqdm

from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.evaluation import measures
from lit_gemma.prompts import splits

# Rows generated and scored together (one progress step).
CHUNK = 16
Responses = Callable[[list[str]], list[str]]


def eval_rows(examples: Sequence[Mapping[str, Any]], where: str,
              split: str | None = fields.EVAL) -> list[tuple[int, Mapping]]:
  """(index, datapoint) of the rows of `split` (None: every row); a
  UserError naming `where` when there are none."""
  if split is None:
    return list(enumerate(examples))
  found = [(i, ex) for i, ex in enumerate(examples)
           if splits.of_example(ex) == split]
  if not found:
    raise errors.UserError(
        f"{where}: no rows marked '{fields.SPLIT}: {split}' (mark the rows "
        "kept for judging, or name an eval_rows_file in a template file)")
  return found


def score_rows(lm, rows: Sequence[Mapping[str, Any]],
               max_length: int | None = None
               ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
  """(target log-probs, foil or paired log-probs or None) per row."""
  pairs, others = [], []
  for ex in rows:
    prompt = str(ex.get(fields.PROMPT) or "")
    pairs.append((prompt, str(ex.get(fields.TARGET) or "")))
    other = measures.other_text(ex)
    others.append(None if other is None else (prompt, other[0]))
  wanted = [p for p in others if p is not None]
  scored = lm.score_batch(pairs + wanted, max_length)
  targets, rest = scored[:len(pairs)], iter(scored[len(pairs):])
  return targets, [None if p is None else next(rest) for p in others]


def evaluate(lm, examples: Sequence[Mapping[str, Any]], responses: Responses,
             *, where: str = "dataset", split: str | None = fields.EVAL,
             max_length: int | None = None, progress: bool = True,
             label: str = "evaluate") -> list[measures.RowResult]:
  """Measures every row of `split` (default: the evaluation rows).

  Args:
    lm: a GemmaLM (scores the targets).
    examples: datapoints (LIT dataset examples or alike).
    responses: prompts -> generated responses (the server's generation
      path, so its response cache is shared).
    where: the dataset, for messages.
    split: the rows measured; None: all.
    max_length: most tokens of prompt + target (RequestError above).
    progress: show a progress bar on stderr.
    label: the progress bar's label.
  """
  chosen = eval_rows(examples, where, split)
  results: list[measures.RowResult] = []
  bar = tqdm.tqdm(total=len(chosen), desc=label, unit="row",
                  disable=not progress, leave=False)
  try:
    for start in range(0, len(chosen), CHUNK):
      chunk = chosen[start:start + CHUNK]
      rows = [ex for _, ex in chunk]
      generated = responses([str(ex.get(fields.PROMPT) or "")
                             for ex in rows])
      targets, others = score_rows(lm, rows, max_length)
      for (index, ex), response, target, other in zip(
          chunk, generated, targets, others):
        results.append(measures.row_result(
            ex, response, target, other, where=f"{where} row {index}"))
      bar.update(len(chunk))
  finally:
    bar.close()
  return results
