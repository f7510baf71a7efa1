"""Ablation, the deletion test and template parts, checked by hand: a
segment's drop is the log-likelihood difference of two scored prompts; the
parts of a template-rendered prompt cover it exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lit_gemma.explain import ablation
from lit_gemma.lit import datasets
from lit_gemma import explain
from lit_gemma.explain import faithfulness
from lit_gemma.explain import verdicts
from lit_gemma.prompts import parts
from lit_gemma.prompts import template_files

PROMPT = "The capital of France is"
TARGET = " Paris and Rome."


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
  import tiny_models  # pylint: disable=g-import-not-at-top
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top

  folder = tiny_models.save_preset("gemma", tmp_path_factory.mktemp("g") / "g")
  return lm_lib.GemmaLM.load(str(folder), max_batch=4)


def _log_likelihood(lm, prompt, target, mask=None) -> float:
  """By hand, through the engine's one-text path."""
  scores = lm.score(prompt, target).astype(np.float64)
  return float(scores.sum() if mask is None else scores @ mask)


def test_batched_scores_equal_one_at_a_time(lm):
  pairs = [(PROMPT, TARGET), ("Water is", " made of"), ("", " Bees."),
           ("The capital of France is a city", " Paris.")]
  for (prompt, target), batched in zip(pairs, lm.score_batch(pairs)):
    np.testing.assert_allclose(batched, lm.score(prompt, target), atol=2e-5)


def test_ablating_a_word_is_the_log_likelihood_difference(lm):
  exp = explain.explain(lm, PROMPT, TARGET)
  abl = ablation.ablate(lm, exp, "word")
  assert [s.text for s in abl.segments] == ["The", " capital", " of",
                                            " France", " is"]
  base = _log_likelihood(lm, PROMPT, TARGET)
  assert abl.base == pytest.approx(base, abs=1e-4)
  by_hand = {1: "The of France is", 3: "The capital of is", 4:
             "The capital of France"}
  for index, cut in by_hand.items():
    assert abl.drops[index] == pytest.approx(
        base - _log_likelihood(lm, cut, TARGET), abs=2e-4)


def test_ablation_scores_only_the_explained_span(lm):
  exp = explain.explain(lm, PROMPT, TARGET, span=" Rome")
  mask = exp.target_mask[exp.prompt_tokens:].astype(np.float64)
  assert 0 < mask.sum() < len(mask)
  abl = ablation.ablate(lm, exp, "word")
  drop = (_log_likelihood(lm, PROMPT, TARGET, mask)
          - _log_likelihood(lm, "The capital of is", TARGET, mask))
  assert abl.drops[3] == pytest.approx(drop, abs=2e-4)


def test_deletion_test_by_hand(lm):
  exp = explain.explain(lm, PROMPT, TARGET)
  checks = faithfulness.check(lm, exp, "word", k=2, draws=5, seed=3)
  again = faithfulness.check(lm, exp, "word", k=2, draws=5, seed=3)
  assert [c.to_dict() for c in checks] == [c.to_dict() for c in again]
  words = ["The", " capital", " of", " France", " is"]
  base = _log_likelihood(lm, PROMPT, TARGET)
  for check in checks:
    scores = np.array([s.score for s in exp.segments("word", check.method)
                       if s.part == "prompt"])
    oriented = -scores if check.method == "grad_dot_input" else scores
    top = sorted(np.argsort(-oriented, kind="stable")[:2])
    assert sorted(check.top_k) == top
    cut = "".join(w for i, w in enumerate(words) if i not in top)
    assert check.top_k_drop == pytest.approx(
        base - _log_likelihood(lm, cut, TARGET), abs=2e-4)
    # ERASER: the top 1 and top 2 removed, and kept alone, averaged.
    order = list(np.argsort(-oriented, kind="stable"))
    removed = [base - _log_likelihood(lm, "".join(
        w for i, w in enumerate(words) if i not in order[:j]), TARGET)
               for j in (1, 2)]
    kept = [base - _log_likelihood(lm, "".join(
        w for i, w in enumerate(words) if i in order[:j]), TARGET)
            for j in (1, 2)]
    assert check.comprehensiveness == pytest.approx(np.mean(removed),
                                                    abs=2e-4)
    assert check.sufficiency == pytest.approx(np.mean(kept), abs=2e-4)
    assert check.gain == pytest.approx(
        check.top_k_drop - np.median(check.random_drops))
    drops = np.array(check.ablation_drops)
    target = drops if check.method == "grad_dot_input" else np.abs(drops)
    assert check.spearman == pytest.approx(
        stats.spearmanr(oriented, target).statistic)
    # The seeded draws, less any that is the map's own top 2.
    rng = np.random.default_rng(3)
    draws = [set(rng.choice(5, 2, replace=False)) for _ in range(5)]
    assert len(check.random_drops) == sum(d != set(top) for d in draws)
  weak = verdicts.Faithfulness(
      "grad_l2", "word", 1, ("a", "b"), (0.0, 1.0), (0,), 0.5,
      (0.1, 0.2, 0.9), 0, None)
  assert not weak.better_than_random
  assert "NO BETTER THAN RANDOM" in weak.summary()


def test_check_refuses_fewer_than_three_segments_and_k_below_two(lm):
  exp = explain.explain(lm, "Water is", " made")
  with pytest.raises(faithfulness.FaithfulnessError, match="needs 3"):
    faithfulness.check(lm, exp, "word")
  exp = explain.explain(lm, PROMPT, TARGET)
  with pytest.raises(faithfulness.FaithfulnessError, match="between 2"):
    faithfulness.check(lm, exp, "word", k=1)
  assert faithfulness.default_k(3) == 2 and faithfulness.default_k(20) == 4


# ------------------------------------------------------ template parts

TEMPLATE_FILE = """
- id: full
  chat: true
  fields: {tone: "kindly"}
  template: "Answer {{tone}}.\\n\\n{{examples}}\\n\\nQ: {{question}}{{empty}}\\nA:"
  example_template: "Q: {{q}}\\nA: {{a}}"
  example_separator: "\\n--\\n"
  examples: [{q: "2+2?", a: "4"}, {q: "Sky?", a: "blue"}]
  rows: [{question: "The capital of France is", empty: "", target: " Paris."}]
- id: bare
  template: "{{question}}"
  rows: [{question: "Water is", empty: ""}]
"""


def test_template_parts_cover_exactly_the_rendered_prompt(tmp_path):
  path = tmp_path / "t.yaml"
  path.write_text(TEMPLATE_FILE)
  full, bare = [r.data for r in template_files.render_file(str(path))]
  for data in (full, bare):
    parts.check_cover(parts.parse(data["prompt_parts"]), data["prompt"])
  text = {label: full["prompt"][s:e] for s, e, label in full["prompt_parts"]}
  assert text["{{tone}}"] == "kindly"
  assert text["example 1"] == "Q: 2+2?\nA: 4"
  assert text["example 2"] == "Q: Sky?\nA: blue"
  assert text["{{question}}"] == "The capital of France is"
  assert "{{empty}}" not in text  # an empty value covers nothing
  labels = [label for _, _, label in full["prompt_parts"]]
  assert labels[0] == labels[-1] == "template"  # the chat turn markup
  assert bare["prompt_parts"] == [[0, 8, "{{question}}"]]
  for name, file in datasets.BUNDLED_FILES.items():
    for ex in datasets.load(datasets.BUNDLED_DIR / file).examples:
      if "prompt_parts" in ex:
        parts.check_cover(parts.parse(ex["prompt_parts"]), ex["prompt"])


def test_part_granularity_sums_salience_by_part(lm, tmp_path):
  path = tmp_path / "t.yaml"
  path.write_text(TEMPLATE_FILE)
  data = template_files.render_file(str(path))[0].data
  exp = explain.explain(lm, data["prompt"], data["target"],
                        prompt_parts=parts.parse(data["prompt_parts"]))
  segments = exp.segments("part", "grad_l2")
  prompt = [s for s in segments if s.part == "prompt"]
  assert "".join(s.text for s in prompt) == data["prompt"]
  assert {s.label for s in prompt} == {"template", "{{tone}}", "example 1",
                                       "example 2", "{{question}}"}
  assert [s.label for s in segments if s.part == "target"] == ["target"]
  np.testing.assert_allclose(sum(s.score for s in segments),
                             exp.scores["grad_l2"].sum(), rtol=1e-5)
  question = next(s for s in prompt if s.label == "{{question}}")
  assert question.text.strip() == "The capital of France is"
  back = explain.Explanation.from_json(exp.to_json())
  assert back.prompt_parts == exp.prompt_parts
  assert back.to_json() == exp.to_json()
  abl = ablation.ablate(lm, exp, "part")
  assert [s.label for s in abl.segments] == [s.label for s in prompt]
  with pytest.raises(explain.ExplainError, match="prompt parts"):
    explain.explain(lm, PROMPT, TARGET).segments("part")
