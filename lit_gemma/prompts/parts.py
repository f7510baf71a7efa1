"""Prompt parts: which characters of a rendered prompt came from the
template's own text, from each few-shot example and from each `{{variable}}`.

A datapoint rendered from a template carries them as `prompt_parts`, a list
of [start, end, label] character spans that cover the prompt exactly, so
that salience can be summed per part ("did the answer rest on the
instruction, the examples or the user's input?"). This module checks them
and maps them onto display tokens; templates.of_template makes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from lit_gemma import errors

TEMPLATE = "template"  # the template's own text (chat markup included)
TARGET = "target"  # the target, one part of its own at this granularity
Part = tuple[int, int, str]

_SPM_SPACE = "▁"


class PartsError(errors.UserError):
  """Prompt parts that do not describe the prompt."""


def example_label(index: int) -> str:
  """The label of few-shot example `index` (0-based), as the user counts."""
  return f"example {index + 1}"


def variable_label(name: str) -> str:
  return "{{" + name + "}}"


def parse(value) -> tuple[Part, ...]:
  """Parts from a datapoint's field: a list of [start, end, label] or its
  JSON text (datasets store non-scalar fields as text)."""
  if isinstance(value, str):
    try:
      value = json.loads(value) if value else []
    except json.JSONDecodeError as e:
      raise PartsError(f"prompt_parts is not JSON: {e}") from None
  try:
    return tuple((int(s), int(e), str(label)) for s, e, label in value)
  except (TypeError, ValueError):
    raise PartsError("prompt_parts must be a list of [start, end, label]"
                     ) from None


def check_cover(parts: Sequence[Part], text: str) -> None:
  """Raises unless `parts` are non-empty spans covering `text` in order,
  without gaps or overlaps."""
  at = 0
  for start, end, label in parts:
    if start != at or end <= start:
      raise PartsError(f"prompt part {label!r} [{start}, {end}) does not "
                       f"start where the previous one ends ({at})")
    at = end
  if at != len(text):
    raise PartsError(f"prompt parts end at {at} but the prompt has "
                     f"{len(text)} characters")


def token_ranges(tokens: Sequence[str], parts: Sequence[Part],
                 prompt_tokens: int) -> list[Part]:
  """(start, end, label) token ranges: one per run of prompt tokens in the
  same part, then the target as one range.

  A token belongs to the part that holds its first non-space character, so
  "▁Paris" after "Q:" counts for the variable, not for the space before it.
  """
  parts = tuple(parts)
  if not parts:
    raise PartsError(
        "granularity 'part' needs prompt parts: a datapoint rendered from a "
        "template (a .yaml or .json template file) has them")
  shown = [t.replace(_SPM_SPACE, " ") for t in tokens]
  prompt_length = parts[-1][1]
  ranges: list[Part] = []
  offset, previous = 0, None
  for i, token in enumerate(shown[:prompt_tokens]):
    stripped = len(token) - len(token.lstrip())
    char = offset + (stripped if stripped < len(token) else 0)
    offset += len(token)
    if not token and previous is not None:
      index = previous  # the rest of a character's bytes
    else:
      index = next((k for k, (s, e, _) in enumerate(parts) if s <= char < e),
                   len(parts) - 1)
    if index == previous:
      ranges[-1] = (ranges[-1][0], i + 1, ranges[-1][2])
    else:
      ranges.append((i, i + 1, parts[index][2]))
    previous = index
  if offset != prompt_length:
    raise PartsError(
        f"the prompt's tokens spell {offset} characters but its parts cover "
        f"{prompt_length}: the parts belong to another prompt")
  if prompt_tokens < len(tokens):
    ranges.append((prompt_tokens, len(tokens), TARGET))
  return ranges
