"""Dynamic templates: a template-file entry that sends each of its rows to
one of several templates by a label of the row.

A prompt that works for one kind of input often fails another (a billing
question and a bug report want different instructions), so a file can
route instead of rendering every row through one template:

  - id: support_dynamic
    route:
      by: topic                 # the label is this field of the row, or
      classify: "Is this about billing or a technical problem?\\n{{query}}\\nAnswer:"
                                # the loaded Gemma's answer to this prompt,
                                # one of the labels below (evaluation/routing.py)
      templates: {billing: billing_v1, technical: technical_v1}
      default: technical_v1     # optional: labels with no template of their own
    rows_file: tickets.jsonl

Each row becomes one datapoint, rendered by the chosen template (an entry of
the same file, which may then have no rows of its own), with `template_id`
the router's id (so the dynamic template compares with static versions on
the same rows) and `route` its label (a data-table column; `evaluate`
reports per route). Classification needs a model: without one (reading a
file before the model loads) rows take the default template and the label
`unclassified`, and the server renders the file again once the model is
there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lit_gemma import fields
from lit_gemma.prompts import templates
from lit_gemma.prompts.files import DataError
from lit_gemma.prompts.files import Row
from lit_gemma.prompts.files import type_name

# classify(prompt, labels) -> one of labels: the model's answer.
Classify = Callable[[str, Sequence[str]], str]
UNCLASSIFIED = "unclassified"
KEYS = ("id", "route", "fields", "rows", "rows_file", "eval_rows_file")
_ROUTE_KEYS = ("by", "classify", "templates", "default")


@dataclasses.dataclass(frozen=True)
class Router:
  """One routing entry (see the module docstring); rows as a Template's."""

  id: str
  templates: Mapping[str, str]  # label -> template id
  by: str | None = None
  classify: str | None = None
  default: str | None = None
  fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  rows: tuple[Mapping[str, Any], ...] | None = None
  rows_file: str | None = None
  eval_rows_file: str | None = None
  path: str = ""

  @property
  def labels(self) -> tuple[str, ...]:
    return tuple(self.templates)

  def label(self, row: Row, classify: Classify | None) -> str:
    """The row's label: its `by` field, or the model's answer to the
    classification prompt (UNCLASSIFIED without a model)."""
    if self.by is not None:
      if self.by not in row.data:
        raise row.error(f"router '{self.id}': missing field '{self.by}' "
                        "(the label it routes by)", self.by)
      return templates.to_text(row.data[self.by])
    if classify is None:
      return UNCLASSIFIED
    try:
      prompt = templates.render(self.classify, row.data)
    except templates.UndefinedVariableError as e:
      raise row.error(f"router '{self.id}': classify prompt: {e}",
                      e.names[0]) from None
    return classify(prompt, self.labels)

  def template_for(self, label: str, row: Row) -> str:
    """The template id for `label` (the default where it has none; an
    unclassified row, the first template when there is no default)."""
    if label in self.templates:
      return self.templates[label]
    if self.default is not None:
      return self.default
    if label == UNCLASSIFIED:
      return next(iter(self.templates.values()))
    known = ", ".join(repr(k) for k in self.templates)
    raise row.error(f"router '{self.id}': label {label!r} has no template "
                    f"(known: {known}; or give a 'default')", self.by)


def parse(path: str, entry: Mapping[str, Any],
          fail: Callable[..., DataError], rows: dict) -> Router:
  """A checked Router from its entry; `rows` holds the entry's parsed
  rows, rows_file and eval_rows_file (as template_files parses them)."""
  for key in entry:
    if key not in KEYS:
      raise fail(f"unknown field '{key}' (a router has: {', '.join(KEYS)})",
                 key)
  route = entry["route"]
  if not isinstance(route, dict):
    raise fail(f"field 'route' must be a mapping, got {type_name(route)}",
               "route")
  for key in route:
    if key not in _ROUTE_KEYS:
      raise fail(f"route: unknown field '{key}' (expected one of: "
                 f"{', '.join(_ROUTE_KEYS)})", key)
  if ("by" in route) == ("classify" in route):
    raise fail("route needs exactly one of 'by' (a field of the row) or "
               "'classify' (a prompt the model answers with a label)",
               "route")
  for key in ("by", "classify", "default"):
    if key in route and (not isinstance(route[key], str) or not route[key]):
      raise fail(f"route: field '{key}' must be a non-empty string", key)
  targets = route.get("templates")
  if (not isinstance(targets, dict) or not targets or not all(
      isinstance(v, str) for v in targets.values())):
    raise fail("route: field 'templates' must map each label to a template "
               "id", "templates")
  constants = entry.get("fields") or {}
  if not isinstance(constants, dict):
    raise fail(f"field 'fields' must be a mapping, got "
               f"{type_name(constants)}", "fields")
  for key in (fields.PROMPT, fields.TEMPLATE_ID, fields.ROUTE):
    if key in constants:
      raise fail(f"fields: '{key}' is reserved (set by the router)", key)
  return Router(id=entry["id"],
                templates={str(k): v for k, v in targets.items()},
                by=route.get("by"), classify=route.get("classify"),
                default=route.get("default"), fields=constants, path=path,
                **rows)


def check_targets(path: str, routers: Sequence[Router],
                  template_ids: Sequence[str]) -> None:
  """Every template a router names exists and is not itself a router."""
  known = set(template_ids)
  for router in routers:
    named = list(router.templates.values()) + (
        [router.default] if router.default else [])
    for template_id in named:
      if template_id not in known:
        raise DataError(path, f"router '{router.id}': no template "
                        f"'{template_id}' in this file (templates: "
                        f"{', '.join(sorted(known)) or 'none'})",
                        field="templates")


def named_templates(routers: Sequence[Router]) -> set[str]:
  """Ids of the templates some router sends rows to."""
  return {t for r in routers for t in
          list(r.templates.values()) + ([r.default] if r.default else [])}
