"""The memory table's arithmetic against what real models weigh."""

from lit_gemma.models import memory_estimates as m
from lit_gemma.models.families import gemma3


def test_gemma3_arithmetic_matches_keras_hub_preset_counts():
  """The configs and formula reproduce keras-hub's own parameter counts."""
  for size in gemma3.SIZES:
    assert size.parameter_count() == gemma3.KERAS_HUB_PARAMS[size.name], (
        size.name)


def test_270m_weights_match_the_loaded_embedded_model(embedded_lm):
  """The table's weight figure for the 270M is what its loaded float32
  weights occupy (within 1%)."""
  measured = sum(v.value.nbytes for v in embedded_lm.backbone.weights)
  table = m.weight_bytes(gemma3.SIZES[0], "float32")
  assert abs(table - measured) <= 0.01 * measured, (table, measured)


def test_scores_dominate_long_texts_and_the_advice_follows():
  size = gemma3.SIZES[0]
  # Attention scores under checkpoint_dots: 18 layers x 4 heads x 8k^2 x 4 B
  # beside the linear products; the long path keeps 18 block inputs and the final norm's two.
  linear = 18 * 8192 * (2 * 4 * 256 + 2 * 1 * 256 + 2 * 640 + 2 * 2048) * 4
  assert m.activation_bytes(size, 8192, "float32") == (
      linear + 18 * 4 * 8192 ** 2 * 4)
  assert m.activation_bytes(size, 8192, "float32", scores=False) == (
      (18 + 2) * 8192 * 640 * 4)
  assert m.needed_distribution(size, 1024, "bfloat16", 16) == "none"
  big = gemma3.SIZES[-1]  # 27B: 100 GiB of float32 weights
  assert m.needed_distribution(big, 1024, "float32", 80) != "none"
