"""Generation for prompts near --max_length: the continuation is the
model's own greedy one, the cap is prompt + max_new_tokens, and long
prompts go fewer to a generation call."""

import numpy as np
import pytest

from lit_gemma import errors
from lit_gemma.models import lm as lm_lib
from lit_gemma.lit import model_groups

MAX_LENGTH, MAX_NEW = 256, 8


@pytest.fixture(scope="module")
def tiny_lm(tiny_presets):
  return lm_lib.GemmaLM.load(str(tiny_presets["gemma3"]))


def _prompt(lm, tokens: int) -> str:
  """A text of `tokens` tokens with BOS (characters outside the tiny
  vocabulary: one byte token each)."""
  text = "".join("~^|`"[(i * 7 + i // 3) % 4] for i in range(tokens - 1))
  assert len(lm.encode(text)) == tokens
  return text


def _greedy(lm, ids, steps):
  """The reference: argmax of the full forward pass, one token at a time."""
  ids, new = list(ids), []
  for _ in range(steps):
    token = int(np.argmax(lm.engine.logits(ids)[-1]))
    if token in lm.stop_ids:
      break
    ids.append(token)
    new.append(token)
  return new


def test_a_prompt_at_the_limit_generates_the_greedy_continuation(tiny_lm):
  settings = model_groups.GroupSettings(max_length=MAX_LENGTH,
                                  max_new_tokens=MAX_NEW)
  generation = model_groups.GenerationModel(tiny_lm, settings, None)
  limit = MAX_LENGTH - MAX_NEW
  text = _prompt(tiny_lm, limit)
  (out,) = generation.predict_minibatch([{"prompt": text}])
  expected = _greedy(tiny_lm, tiny_lm.encode(text), MAX_NEW)
  assert expected and out["response"] == tiny_lm.decode(expected)
  with pytest.raises(errors.RequestError) as e:
    generation.predict_minibatch([{"prompt": _prompt(tiny_lm, limit + 1)}])
  assert str(e.value) == (
      f"prompt is {limit + 1} tokens, over the limit of {limit} "
      f"(--max_length {MAX_LENGTH} minus --max_new_tokens {MAX_NEW})")


def test_long_prompts_go_fewer_to_a_call(tiny_lm, monkeypatch):
  """Rows x padded length per call stays under GENERATION_TOKENS, and each
  prompt still gets its own continuation back."""
  lengths = (100, 20, 30, 25, 1500)
  prompts = [[2] + [5] * (n - 1) for n in lengths]
  calls = []

  def generate_rows(rows, new):  # the compiled call, by its shape alone
    calls.append(sorted(len(r) for r in rows))
    return [[len(r), new] for r in rows]

  monkeypatch.setattr(tiny_lm, "_generate_rows", generate_rows)
  assert tiny_lm.generate_ids(prompts, 4) == [[n, 4] for n in lengths]
  assert calls == [[20, 25, 30, 100], [1500]]  # 16 rows x 1,536 > 16k
  monkeypatch.setattr(lm_lib, "GENERATION_TOKENS", 256)
  calls.clear()
  assert tiny_lm.generate_ids(prompts, 4) == [[n, 4] for n in lengths]
  # 20-30 tokens (+4) pad to 48: 4 rows x 48 fit in 256; 104 pads to 128
  # and 1,504 to 1,536, one row each.
  assert calls == [[20, 25, 30], [100], [1500]]
