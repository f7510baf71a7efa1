"""The LIT model group over a tiny random Gemma 3: specs, LIT's own output
validation, token strings, generation and salience requests."""

import numpy as np
import pytest
from lit_nlp.api import dataset as lit_dataset
from lit_nlp.api import types as lit_types
from lit_nlp.lib import validation

from lit_gemma.models import lm as lm_lib
from lit_gemma.lit import model_groups
from lit_gemma.lit import response_cache as response_cache_lib
from lit_gemma.models import tokens


@pytest.fixture(scope="module")
def tiny_lm(tiny_presets):
  return lm_lib.GemmaLM.load(str(tiny_presets["gemma3"]))


@pytest.fixture()
def group(tiny_lm, tmp_path):
  settings = model_groups.GroupSettings(max_length=48, max_new_tokens=5,
                                  batch_size=4)
  cache = response_cache_lib.ResponseCache(tmp_path / "responses.sqlite")
  return model_groups.model_group("tiny", tiny_lm, settings, cache)


EXAMPLES = [
    {"prompt": "The capital of France is", "target": " Paris."},
    {"prompt": "def add(a, b):\n", "target": "    return a + b"},
    {"prompt": "", "target": "Bees dance"},
]


def _dataset(examples=EXAMPLES):
  spec = {"prompt": lit_types.TextSegment(),
          "target": lit_types.TextSegment(required=False)}
  return lit_dataset.Dataset(spec=spec, examples=list(examples))


def test_group_names_and_specs_follow_the_ui_contract(group):
  assert set(group) == {"tiny", "_tiny_tokenizer", "_tiny_salience"}
  generation, tokenizer, salience = (
      group["tiny"], group["_tiny_tokenizer"], group["_tiny_salience"])
  assert generation.lm is tokenizer.lm is salience.lm
  for model in group.values():
    spec = model.input_spec()
    assert isinstance(spec["prompt"], lit_types.TextSegment)
    assert isinstance(spec["target"], lit_types.TextSegment)
    assert not spec["target"].required
  out = generation.output_spec()
  assert type(out["response"]) is lit_types.GeneratedText
  assert out["response"].parent == "target"
  assert isinstance(tokenizer.output_spec()["tokens"], lit_types.Tokens)
  mask = salience.input_spec()["target_mask"]
  assert isinstance(mask, lit_types.TokenScores) and not mask.required
  sal_out = salience.output_spec()
  assert isinstance(sal_out["tokens"], lit_types.Tokens)
  scores = {k for k, v in sal_out.items()
            if isinstance(v, lit_types.TokenScores)}
  assert scores == {"grad_l2", "grad_dot_input"}
  assert all(sal_out[k].align == "tokens" for k in scores)


def test_lit_validates_every_output(group):
  for model in group.values():
    validation.validate_model(model, _dataset())


def test_tokens_match_the_salience_tokens_and_keep_markers(group, tiny_lm):
  example = {"prompt": "Step by step:\n", "target": " 12 + 7 = 19"}
  toks = group["_tiny_tokenizer"].predict([example])
  sal = group["_tiny_salience"].predict([example])
  toks, sal = list(toks)[0]["tokens"], list(sal)[0]
  assert toks == sal["tokens"]
  assert len(sal["grad_l2"]) == len(toks)
  assert "<bos>" not in toks
  assert "\n" in toks
  assert any(t.startswith("▁") for t in toks)
  assert "".join(toks).replace("▁", " ") == example["prompt"] + example[
      "target"]
  del tiny_lm


def test_display_tokens_decode_byte_fallback_once():
  pieces = ["▁caf", "<0xC3>", "<0xA9>", "<0x0A>", "<0xF0>", "<0x9F>",
            "<0x99>", "<0x82>", "<0xFF>", "▁ok"]
  assert tokens.display_tokens(pieces) == [
      "▁caf", "é", "", "\n", "🙂", "", "", "", "<0xFF>", "▁ok"]
  # A truncated sequence keeps its spelling rather than inventing text.
  assert tokens.display_tokens(["<0xE6>", "<0x9D>"]) == ["<0xE6>", "<0x9D>"]


def test_default_target_is_everything_after_the_prompt(group, tiny_lm):
  example = {"prompt": "The capital of France is", "target": " Paris."}
  out = list(group["_tiny_salience"].predict([example]))[0]
  n_prompt = len(tiny_lm.encode(example["prompt"])) - 1  # without BOS
  explicit = dict(example)
  explicit["target_mask"] = [0.0] * n_prompt + [1.0] * (
      len(out["tokens"]) - n_prompt)
  again = list(group["_tiny_salience"].predict([explicit]))[0]
  np.testing.assert_allclose(out["grad_l2"], again["grad_l2"], rtol=1e-6)
  assert max(out["grad_l2"]) > 0


def test_salience_leaves_bos_out_of_tokens_and_scores(group, tiny_lm):
  example = {"prompt": "Water is made of", "target": " hydrogen"}
  ids = tiny_lm.encode(example["prompt"] + example["target"])
  out = list(group["_tiny_salience"].predict([example]))[0]
  assert len(out["tokens"]) == len(out["grad_l2"]) == len(ids) - 1
  mask = np.zeros(len(ids), np.float32)
  mask[len(tiny_lm.encode(example["prompt"])):] = 1
  tiny_lm.engine.forget()
  engine = tiny_lm.engine.salience([ids], [mask])[0]
  np.testing.assert_allclose(out["grad_l2"], engine["grad_l2"][1:],
                             rtol=1e-5)
  with pytest.raises(model_groups.RequestError,
                     match=rf"target_mask has {len(ids)} entries but prompt "
                           rf"\+ target has {len(ids) - 1} tokens"):
    list(group["_tiny_salience"].predict(
        [example | {"target_mask": [0.0] * len(ids)}]))


def test_salience_refuses_texts_over_max_length(group):
  long_prompt = "water " * 60
  with pytest.raises(model_groups.RequestError,
                     match=r"prompt \+ target is \d+ tokens, over the limit "
                           r"of 48 \(--max_length\)"):
    list(group["_tiny_salience"].predict([{"prompt": long_prompt,
                                           "target": ""}]))


def test_generation_returns_only_new_text_within_max_new_tokens(group,
                                                                tiny_lm):
  prompts = ["The capital of France is", "Water"]
  outputs = list(group["tiny"].predict([{"prompt": p} for p in prompts]))
  for prompt, out in zip(prompts, outputs):
    new_ids = tiny_lm.generate_ids([tiny_lm.encode(prompt)], 5)[0]
    assert 0 < len(new_ids) <= 5
    assert out["response"] == tiny_lm.decode(new_ids)
    assert not out["response"].startswith(prompt)
    assert out["prompt_embeddings"].shape == (32,)
    assert out["response_embeddings"].shape == (32,)


def test_generation_stops_at_a_stop_token(tiny_lm):
  # Find a continuation whose later token is new, to stop in the middle.
  for text in ("Bees dance to", "Step by step", "def add", "The", "12 + 7"):
    prompt = tiny_lm.encode(text)
    free = tiny_lm.generate_ids([prompt], 6)[0]
    assert len(free) == 6
    stop_at = next((i for i in range(1, 6) if free[i] not in free[:i]), None)
    if stop_at:
      break
  assert stop_at, "no prompt with a varied continuation"
  saved = tiny_lm.stop_ids
  try:
    tiny_lm.stop_ids = (free[stop_at],)
    assert tiny_lm.generate_ids([prompt], 6)[0] == free[:stop_at]
  finally:
    tiny_lm.stop_ids = saved
  assert tiny_lm.eos_id in saved
  end_of_turn = tiny_lm.encode("<end_of_turn>")[1:]
  assert len(end_of_turn) == 1 and end_of_turn[0] in saved


def test_batched_generation_equals_one_at_a_time(tiny_lm):
  prompts = [tiny_lm.encode(p) for p in ("A", "The capital of France is",
                                         "Water is made of")]
  together = tiny_lm.generate_ids(prompts, 4)
  for prompt, got in zip(prompts, together):
    assert tiny_lm.generate_ids([prompt], 4)[0] == got


def test_dataset_response_is_shown_instead_of_generating(group):
  example = {"prompt": "Q?", "target": "", "response": " A given answer."}
  out = list(group["tiny"].predict([example]))[0]
  assert out["response"] == " A given answer."
  assert len(group["tiny"].response_cache) == 0


def test_generated_responses_are_cached(group, tiny_lm, monkeypatch):
  first = list(group["tiny"].predict([{"prompt": "Bees"}]))[0]["response"]
  assert len(group["tiny"].response_cache) == 1

  def fail(*args, **kwargs):
    raise AssertionError("generated again despite the cache")

  monkeypatch.setattr(tiny_lm, "generate_ids", fail)
  again = list(group["tiny"].predict([{"prompt": "Bees"}]))[0]["response"]
  assert again == first


def test_generation_loop_stops_once_rows_have_their_new_tokens(tiny_lm):
  """keras-hub's loop would run to the padded length (64 here)."""
  prompt = tiny_lm.encode("Bees dance")
  assert len(tiny_lm.generate_ids([prompt], 3)[0]) == 3
  token_ids = np.zeros((1, 64), np.int32)
  token_ids[0, : len(prompt)] = prompt
  out = tiny_lm._generate(  # pylint: disable=protected-access
      {"token_ids": token_ids, "padding_mask": token_ids != 0},
      stop_token_ids=tiny_lm.stop_ids)
  written = np.asarray(out["token_ids"])[0]
  assert np.all(written[len(prompt):len(prompt) + 3] != 0)
  assert np.all(written[len(prompt) + 3:] == 0)
