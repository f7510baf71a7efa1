"""Engine properties every model family must have, shared by the family
tests (test_salience.py for Gemma 1-3, test_salience_gemma4.py for Gemma 4
and 3n); each passes its own map comparison."""

import numpy as np


def mask(length, start, stop):
  """A 0/1 target mask over `length` tokens, ones in [start, stop)."""
  out = np.zeros(length, np.float32)
  out[start:stop] = 1
  return out


def span_change_equals_fresh(engine, ids, assert_same_maps) -> None:
  """A new mask on a kept text (backward only) equals a fresh call."""
  first = mask(len(ids), len(ids) - 4, len(ids))
  second = mask(len(ids), 10, 14)
  engine.forget()
  engine.salience([ids], [first])
  assert engine.kept_texts == 1
  kept = engine.salience([ids], [second])[0]
  engine.forget()
  assert_same_maps(kept, engine.salience([ids], [second])[0])


def k_masks_equal_single_calls(engine, ids, masks, assert_same_maps) -> None:
  """K masks in one compiled call equal K single calls."""
  engine.forget()
  together = engine.salience_for_masks(ids, masks)
  for one, got in zip(masks, together):
    engine.forget()
    assert_same_maps(got, engine.salience([ids], [one])[0])


def same_bucket_compiles_nothing(engine, ids) -> None:
  """Once a bucket's fresh and span steps are compiled, another text of the
  same bucket, its span change and a new span on a kept text compile
  nothing."""
  from lit_gemma.salience import buckets  # pylint: disable=g-import-not-at-top
  from lit_gemma.salience import compilation  # pylint: disable=g-import-not-at-top

  other = ids[: len(ids) - 2]
  assert buckets.sequence_bucket(len(other)) == buckets.sequence_bucket(
      len(ids))
  engine.forget()
  engine.salience([ids], [mask(len(ids), len(ids) - 3, len(ids))])
  engine.salience([ids], [mask(len(ids), 6, 8)])  # span step compiled
  with compilation.CompileCounter() as counter:
    engine.salience([other], [mask(len(other), 5, 7)])  # new text
    engine.salience([other], [mask(len(other), 9, 12)])  # span change
    engine.salience([ids], [mask(len(ids), 3, 9)])  # kept text, new span
  assert counter.count == 0
