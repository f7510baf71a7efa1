"""Which weights are split across the "model" axis: every family's rules
(its record's `sharding`, models/families/) in one layout map.

keras-hub has a layout map only for `GemmaBackbone`, and it splits the
key/value-head axis, which a model with one KV head (Gemma 3 270M and 1B)
cannot split. The families' rules split only axes that grow with the model
and that most sizes divide: query heads (and the attention output's head
axis), the feed-forward width, the experts and the vocabulary. Everything
else (norms, K/V projections, routers, per-layer gates) is replicated:
small beside the rest. A rule whose axis the mesh does not divide falls
back to replicated (see `distribution.ShardedModelParallel`), so one map
serves every size.

Each rule is (path regex, axis names), matched with `re.fullmatch` as
`keras.distribution.LayoutMap` does. The families' paths never overlap, so
one map can hold them all and a server can load several families at once.
"""

from __future__ import annotations

from lit_gemma.models import families
from lit_gemma.models.families import record

MODEL = record.MODEL


def all_rules() -> record.Rules:
  """Every family's rules once, in order (Gemma 4 extends Gemma's)."""
  rules = {}
  for family in families.registered():
    for pattern, axes in family.sharding:
      rules.setdefault(pattern, axes)
  return tuple(rules.items())


def layout_map(device_mesh, rules=None):
  """A `keras.distribution.LayoutMap` on `device_mesh` from `rules`
  (default: every family's)."""
  import keras  # pylint: disable=g-import-not-at-top

  layouts = keras.distribution.LayoutMap(device_mesh)
  for pattern, axes in (rules if rules is not None else all_rules()):
    layouts[pattern] = axes
  return layouts
