"""The UI's faithful and contrastive maps: one selectable model group per
kind (group_kinds.py) beside each Gemma's `NAME` group.

Selecting `NAME_loo` (say) beside `NAME` in LIT's model picker shows a
second Sequence Salience module with leave-one-out maps of the same
datapoint; `NAME` alone keeps its fast gradient maps. Each group has LIT's
three models (`NAME_loo`, `_NAME_loo_tokenizer`, `_NAME_loo_salience`);
the salience model computes its methods through explain/ (the numbers the
CLI and Python give) and reads the datapoint's `foil` in a contrastive
group.

Costly maps never hold a request past `jobs.WAIT_S`: they are computed in
the background and a click that comes too early is answered (409, one line
in the status bar) with how far the work got; the same click later shows
the map. A leave-one-out map whose variants are all scored already (the
same text's other spans, or rows the verdict columns scored) is a sum and
is answered at once.

Signed maps other than `grad_dot_input` (leave-one-out, integrated
gradients) point so that positive means "the target relies on it": LIT
draws them with its unsigned colour map, which colours positive scores
and leaves negative ones white; each chip's tooltip shows the signed score.
"""

from __future__ import annotations

from collections.abc import Sequence

from lit_nlp.api import model as lit_model
from lit_nlp.api import types as lit_types

from lit_gemma import errors
from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma.explain import ablation_maps
from lit_gemma.explain import registry
from lit_gemma.lit import group_kinds
from lit_gemma.lit import jobs as jobs_lib
from lit_gemma.lit import model_groups
from lit_gemma.lit import response_cache as response_cache_lib
from lit_gemma.models import lm as lm_lib


class MethodSalienceModel(model_groups.GroupMember):
  """Sequence salience of one group kind's methods for a target mask."""

  def __init__(self, lm: lm_lib.GemmaLM, settings, kind: group_kinds.GroupKind,
               jobs: jobs_lib.Jobs):
    super().__init__(lm, settings)
    self.kind = kind
    self.methods = registry.check_names(kind.methods)
    self.jobs = jobs

  def description(self) -> str:
    return self.kind.description

  def input_spec(self) -> lit_types.Spec:
    return super().input_spec() | {
        fields.TARGET_MASK: lit_types.TokenScores(align="", required=False),
        fields.FOIL: fields.model_read_spec()[fields.FOIL]}

  def output_spec(self) -> lit_types.Spec:
    return {fields.TOKENS: lit_types.Tokens(parent="")} | {
        name: lit_types.TokenScores(align=fields.TOKENS)
        for name in self.methods}

  def _item(self, example) -> explain_lib.Item:
    if note := self._other_format(example):
      raise errors.RequestError(note)
    prompt, target = self._text(example)
    foil = str(example.get(fields.FOIL) or "") if self.kind.contrast else ""
    if self.kind.contrast and not foil:
      raise errors.RequestError(
          "this datapoint has no foil: a contrastive map needs a `foil` "
          "field (the answer to contrast the target with); choose the "
          "group without _contrast for a plain map")
    mask = example.get(fields.TARGET_MASK)
    return explain_lib.Item(prompt, target, foil=foil,
                            target_mask=None if mask is None else list(mask))

  def _explain(self, item: explain_lib.Item, job=None):
    return explain_lib.explain_many(
        self.lm, [item], methods=self.methods,
        max_length=self.settings.max_length,
        progress=None if job is None else job.progress)[0]

  def _cheap(self, item: explain_lib.Item) -> bool:
    """Whether every map is a sum of kept ablation rows."""
    if any(registry.get(m).kind != registry.ABLATION for m in self.methods):
      return False
    exp = explain_lib.api.skeleton(self.lm, item, self.settings.max_length)
    return not any(ablation_maps.unscored(self.lm, exp, m)
                   for m in self.methods)

  def explanation(self, example) -> explain_lib.Explanation:
    """The Explanation this model answers `example` with."""
    item = self._item(example)
    if not self.kind.background or self._cheap(item):
      return self._explain(item)
    key = (self.kind.suffix, item.prompt, item.target, item.foil,
           tuple(item.target_mask or ()))
    what = f"the {', '.join(self.methods)} map of this text"
    return self.jobs.result(key, lambda job: self._explain(item, job), what)

  def predict_minibatch(self, inputs: list[dict]) -> list[dict]:
    out = []
    for example in inputs:
      exp = self.explanation(example)
      out.append({fields.TOKENS: list(exp.tokens)} | {
          name: exp.scores[name].tolist() for name in self.methods})
    return out


class GroupGeneration(model_groups.GenerationModel):
  """The group's generation model (the same responses as `NAME`'s, from
  the response cache), described by what the group's maps are."""

  def __init__(self, lm, settings, response_cache,
               kind: group_kinds.GroupKind):
    super().__init__(lm, settings, response_cache)
    self.kind = kind

  def description(self) -> str:
    return f"{super().description()}; its salience: {self.kind.description}"


def groups(name: str, lm: lm_lib.GemmaLM, settings,
           response_cache: response_cache_lib.ResponseCache | None,
           suffixes: Sequence[str], jobs: jobs_lib.Jobs
           ) -> dict[str, lit_model.Model]:
  """The LIT models of each group kind in `suffixes` for model `name`."""
  out = {}
  for suffix in group_kinds.check(suffixes):
    kind = group_kinds.KINDS[suffix]
    group = group_kinds.group_name(name, suffix)
    out[group] = GroupGeneration(lm, settings, response_cache, kind)
    out[fields.tokenizer_name(group)] = model_groups.TokenizerModel(
        lm, settings)
    out[fields.salience_name(group)] = MethodSalienceModel(lm, settings,
                                                           kind, jobs)
  return out
