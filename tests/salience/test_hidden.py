"""Batched hidden states (salience/hidden.py) equal one text at a time
through the engine's own forward pass, whatever the batch and its padding;
a partial depth stops after that many decoder blocks."""

import numpy as np
import pytest

from lit_gemma.salience import hidden


@pytest.fixture(scope="module")
def runner(tiny_lm):
  return hidden.HiddenStates(tiny_lm.engine)


def test_batched_states_equal_one_text_at_a_time(tiny_lm, runner):
  texts = ["Hi.", "How do I bake bread at home?", "A much longer text " * 6,
           "Name a river.", "Why?"]
  ids = [tiny_lm.encode(t) for t in texts]
  got = dict(runner(ids))
  assert sorted(got) == list(range(len(texts)))
  for i, one in enumerate(ids):
    alone = tiny_lm.engine.forward_hidden(one)
    assert got[i].shape == alone.shape == (len(one), alone.shape[1])
    np.testing.assert_allclose(got[i], alone, rtol=2e-4, atol=2e-4)


def test_partial_depth_is_the_first_blocks(tiny_lm, runner):
  ids = [tiny_lm.encode("Which planet is closest to the Sun?")]
  layers = runner.layer_count
  assert layers >= 2
  full = dict(runner(ids, depth=layers))[0]
  np.testing.assert_allclose(full, dict(runner(ids))[0], rtol=1e-6)
  first = dict(runner(ids, depth=1))[0]
  assert not np.allclose(first, full, atol=1e-3)  # not the final states
  forward = tiny_lm.engine.forward
  padded = np.asarray(ids, np.int32)
  want = forward.hidden_at(forward.params(), forward.embed(
      forward.params(), padded), np.ones_like(padded), 1)
  np.testing.assert_allclose(first, np.asarray(want)[0], rtol=2e-4,
                             atol=2e-4)
  with pytest.raises(ValueError, match="depth must be at least 1"):
    list(runner(ids, depth=0))


def test_calls_pack_short_texts_by_fine_length_buckets(runner):
  lengths = [3, 9, 17, 17, 30, 70, 8]
  calls = runner.calls(lengths)
  assert [sorted(lengths[i] for i in c) for c in calls] == [
      [3, 8], [9], [17, 17], [30], [70]]
  # Past 64 tokens the engine's own sequence buckets (doubling to 128).
  assert hidden.length_bucket(17) == 24 and hidden.length_bucket(70) == 128
  assert runner.rows_for(8) == hidden.MOST_ROWS
  assert runner.rows_for(96) == runner.rows_for(1024) == 8
