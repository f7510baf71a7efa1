"""JSON in and out of the server with finite numbers only.

Python's `json` reads `NaN`, `Infinity` and `1e999` (as inf) and writes
non-finite floats as `NaN`/`Infinity`, which is not JSON: a browser's
`JSON.parse` fails on the whole answer. Requests with such numbers are
refused (`NotFinite`, a ValueError); answers never carry them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from lit_nlp.lib import serialize


class NotFinite(ValueError):
  """A request number that is not finite (NaN, Infinity, or overflows)."""


def _refuse_constant(name: str):
  raise NotFinite(f"the body holds {name}, which is not a JSON number")


def _checked_float(text: str) -> float:
  value = float(text)
  if not math.isfinite(value):
    raise NotFinite(f"the number {text[:40]} is too large")
  return value


def loads(text: str) -> Any:
  """`text` parsed as LIT parses request bodies, finite numbers only.

  Raises:
    NotFinite: a NaN, an Infinity or a number beyond float range.
    ValueError: text that is not JSON (json.JSONDecodeError).
    RecursionError: nesting too deep for the parser.
  """
  return json.loads(text, object_hook=serialize._obj_from_json,  # pylint: disable=protected-access
                    parse_constant=_refuse_constant,
                    parse_float=_checked_float)


def _finite(value: Any) -> Any:
  """`value` with every non-finite float replaced by None (JSON null)."""
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, dict):
    return {k: _finite(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite(v) for v in value]
  return value


def dumps(obj: Any, simple: bool = True) -> tuple[str, bool]:
  """(JSON text, whether non-finite numbers had to be replaced by null).

  LIT's encoder (NumPy arrays, LitTypes) with `allow_nan=False`; only when
  that fails is the (rare) answer walked again with the numbers nulled.
  """
  try:
    return serialize.to_json(obj, simple=simple, allow_nan=False), False
  except ValueError:
    plain = json.loads(serialize.to_json(obj, simple=simple))
    return json.dumps(_finite(plain), allow_nan=False), True
