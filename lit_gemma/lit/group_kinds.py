"""The extra model groups the UI can select beside `NAME`, by suffix: what
each computes, and whether it is contrastive or runs in the background.

Kept free of heavy imports so that the server's settings can check
`--method_groups` before the model stack loads; method_groups.py builds the
LIT models. LIT's Sequence Salience module asks a group's `_NAME_salience`
for every field on every click, so each costly method has a group of its
own and the gradient click of `NAME` stays as it was.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class GroupKind:
  """A selectable group `NAME_<suffix>`.

  Attributes:
    suffix: appended to the model's name.
    methods: registry methods, one TokenScores field each.
    contrast: every map explains log p(target span) - log p(foil), the
      datapoint's `foil` field (refused without one).
    background: the work may outlast a request: it runs in the background
      (lit/jobs.py) and a click that comes too early is told how far it got.
    description: what the model picker's description says.
  """

  suffix: str
  methods: tuple[str, ...]
  contrast: bool = False
  background: bool = False
  description: str = ""


KINDS: dict[str, GroupKind] = {k.suffix: k for k in (
    GroupKind("contrast", ("grad_l2", "grad_dot_input"), contrast=True,
              description="gradient maps of why the target rather than the "
              "datapoint's foil: log p(target) - log p(foil)"),
    GroupKind("loo", ("loo_sentence", "loo_line"), background=True,
              description="leave-one-out: the drop in the target's "
              "log-likelihood when each sentence (line) is removed; view "
              "each at its own granularity"),
    GroupKind("loo_contrast", ("loo_sentence", "loo_line"), contrast=True,
              background=True,
              description="leave-one-out of log p(target) - log p(foil)"),
    GroupKind("loo_word", ("loo_word",), background=True,
              description="leave-one-out by word (one forward pass a word;"
              " computed in the background)"),
    GroupKind("fit", ("fit_sentence", "fit_line"), background=True,
              description="fitted ablations (as ContextCite): each "
              "sentence's (line's) weight in a linear fit of the target's "
              "log-likelihood over 32 random removals and single ones; the "
              "best sufficiency; view each at its own granularity"),
    GroupKind("greedy", ("greedy_sentence", "greedy_line"), background=True,
              description="greedy deletion: the sentences (lines) in the "
              "order that removing them, together with those before, hurts "
              "the target most; the map that passes the deletion test most "
              "often; view each at its own granularity"),
    GroupKind("ig", ("integrated_gradients",), background=True,
              description="integrated gradients from pad-token rows (16 "
              "forward + backward passes a span; computed in the "
              "background)"),
)}
DEFAULT = tuple(KINDS)


def group_name(name: str, suffix: str) -> str:
  return f"{name}_{suffix}"


def check(suffixes) -> tuple[str, ...]:
  """`suffixes` as a tuple, or ValueError naming the unknown ones."""
  suffixes = tuple(suffixes)
  unknown = [s for s in suffixes if s not in KINDS]
  if unknown:
    raise ValueError(f"unknown method group(s) {unknown}; known: "
                     f"{', '.join(KINDS)}")
  return suffixes
