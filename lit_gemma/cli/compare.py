"""`lit-gemma compare`: for datapoints rendered from different templates
with the same variables, which prompt parts gained or lost salience for the
same target.

Datapoints of a template file are grouped by the text of their
`{{variables}}` (few-shot examples are part of a template, not a variable)
and their target; a group seen under two or more `template_id`s is
explained once per template, for the group's target (the first one's
target, response or generated response), and each part label's share of
the prompt's |salience| is compared with the first template's.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from lit_gemma.prompts import files
from lit_gemma.lit import datasets
from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma.prompts import parts as parts_lib
from lit_gemma import html_page
from lit_gemma.explain import segments as segments_lib


@dataclasses.dataclass(frozen=True)
class Group:
  """One set of variables under several templates.

  Attributes:
    variables: variable label -> its text.
    target: the target explained for every template.
    template_ids: the templates, in dataset order.
    shares: template id -> part label -> share of the prompt's |salience|.
    explanations: template id -> its Explanation.
  """

  variables: dict[str, str]
  target: str
  template_ids: tuple[str, ...]
  shares: dict[str, dict[str, float]]
  explanations: dict[str, explain_lib.Explanation]

  def labels(self) -> list[str]:
    return list(dict.fromkeys(l for s in self.shares.values() for l in s))

  def rows(self) -> list[tuple]:
    """(label, share per template..., change vs the first) per part."""
    out = []
    for label in self.labels():
      values = [self.shares[t].get(label, 0.0) for t in self.template_ids]
      out.append((label, *values, values[-1] - values[0] if len(values) > 1
                  else 0.0))
    return out

  def to_dict(self) -> dict:
    return {"variables": self.variables, "target": self.target,
            "template_ids": list(self.template_ids), "shares": self.shares}


def shares(exp: explain_lib.Explanation, method: str) -> dict[str, float]:
  """Part label -> its share of the prompt segments' |salience|."""
  prompt = [s for s in exp.segments(segments_lib.PART, method)
            if s.part == segments_lib.PROMPT]
  total = sum(abs(s.score) for s in prompt) or 1.0
  out: dict[str, float] = {}
  for s in prompt:
    out[s.label] = out.get(s.label, 0.0) + abs(s.score) / total
  return out


def _variables(example: dict) -> dict[str, str]:
  prompt = example[fields.PROMPT]
  return {label: prompt[s:e] for s, e, label in parts_lib.parse(
      example.get(fields.PROMPT_PARTS, "")) if label.startswith("{{")}


def groups(backend, dataset_path: str, method: str) -> list[Group]:
  """Every group of the dataset seen under 2+ templates, explained."""
  dataset = datasets.load(dataset_path)
  found: dict[str, list[dict]] = {}
  for ex in dataset.examples:
    if not ex.get(fields.PROMPT_PARTS) or fields.TEMPLATE_ID not in ex:
      continue
    key = json.dumps([_variables(ex), ex.get(fields.TARGET, "")],
                     sort_keys=True)
    found.setdefault(key, []).append(ex)
  chosen = []
  for members in found.values():
    by_template = {}
    for ex in members:
      by_template.setdefault(ex[fields.TEMPLATE_ID], ex)
    if len(by_template) > 1:
      chosen.append(list(by_template.values()))
  if not chosen:
    raise files.DataError(
        dataset_path, "no datapoints share their variables under different "
        "template ids: compare needs a template file with two or more "
        "templates over the same rows")
  targets = [m[0].get(fields.TARGET) or m[0].get(fields.RESPONSE)
             for m in chosen]
  need = [i for i, t in enumerate(targets) if not t]
  if need:
    for i, text in zip(need, backend.generate(
        [chosen[i][0][fields.PROMPT] for i in need])):
      targets[i] = text
  items = [explain_lib.Item(ex[fields.PROMPT], target, prompt_parts=
                            parts_lib.parse(ex[fields.PROMPT_PARTS]))
           for members, target in zip(chosen, targets) for ex in members]
  exps = iter(backend.explain(items, [method]))
  out = []
  for members, target in zip(chosen, targets):
    ids = tuple(ex[fields.TEMPLATE_ID] for ex in members)
    explained = {t: next(exps) for t in ids}
    out.append(Group(_variables(members[0]), target, ids,
                     {t: shares(e, method) for t, e in explained.items()},
                     explained))
  return out


def _short(text: str, most: int = 50) -> str:
  text = text.replace("\n", " ")
  return repr(text if len(text) <= most else text[: most - 3] + "...")


def _title(number: int, group: Group) -> str:
  variables = ", ".join(f"{k}={_short(v, 40)}" for k, v in
                        group.variables.items())
  return f"group {number}: {variables or '(no variables)'}; target " \
         f"{_short(group.target, 30)}"


def _format_row(row: tuple) -> list[str]:
  label, *values, change = row
  verdict = ("gained" if change > 0.005 else "lost" if change < -0.005
             else "same")
  return [label] + [f"{v:6.1%}" for v in values] + [
      f"{change:+6.1%} {verdict}"]


def text(found: Sequence[Group], method: str) -> str:
  """A table per group: each part's share per template and its change."""
  blocks = [f"share of |{method}| salience by prompt part, change vs the "
            f"first template"]
  for number, group in enumerate(found, 1):
    header = ["part", *group.template_ids, "change"]
    rows = [header] + [_format_row(r) for r in group.rows()]
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
             for r in rows]
    blocks.append(_title(number, group) + "\n" + "\n".join(lines))
  return "\n\n".join(blocks) + "\n"


def html(found: Sequence[Group], method: str) -> str:
  """The tables, with each template's coloured parts, as one HTML file."""
  body = []
  for number, group in enumerate(found, 1):
    body.append(html_page.section(_title(number, group)))
    body.append(html_page.table(["part", *group.template_ids, "change"],
                                [_format_row(r) for r in group.rows()]))
    for template_id, exp in group.explanations.items():
      body.append(html_page.paragraph(
          template_id, exp.to_html(segments_lib.PART, method)))
  return html_page.page(f"lit-gemma compare: {method} by prompt part",
                        "".join(body))
