"""BPE merge list -> SentencePiece piece scores, for GGUF files of Gemma 4.

Why this module exists: llama.cpp writes Gemma 4's tokenizer from its
`tokenizer.json` (a BPE model), so the GGUF carries the merge list and a
placeholder score (-1000) on every piece, not Gemma 1-3's SentencePiece
scores. SentencePiece's BPE merges by piece score, so the score that makes it
merge in the same order as the merge list is minus the rank of the first
merge that produces the piece; pieces no merge produces (single characters,
bytes, special tokens) rank below every merge. keras-hub rebuilds Gemma 4's
tokenizer from `tokenizer.json` by the same rule, so the two agree.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

from lit_gemma.models.gguf import reader


def scores(tokens: Sequence[str], merges: Sequence[str],
           path: pathlib.Path) -> list[float]:
  """One score per token: -rank of the merge that first produces it."""
  first_rank: dict[str, int] = {}
  for rank, rule in enumerate(merges):
    left, sep, right = rule.partition(" ")
    if not sep or not left or not right:
      raise reader.fail(path, f"tokenizer merge {rank} {rule!r} is not "
                        "two pieces separated by a space")
    first_rank.setdefault(left + right, rank)
  unmerged = -float(len(merges) + 1)
  return [-float(first_rank[t]) if t in first_rank else unmerged
          for t in tokens]
