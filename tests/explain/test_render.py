"""Salience as coloured text: HTML and a matplotlib figure, on hand-built
explanations (no model)."""

import html.parser
import io

import numpy as np
import pytest
from IPython.core import pylabtools
from matplotlib import figure as figure_lib

from lit_gemma import explain
from lit_gemma.explain import render
from lit_gemma.salience import methods

TOKENS = ["Water", "▁is", "▁made", "▁of", "▁hydrogen", "▁and", "▁oxygen", "."]
WORDS = ["Water", "is", "made", "of", "hydrogen", "and", "oxygen."]


def _explanation(tokens=TOKENS, prompt_tokens=4, explained=(6,),
                 grad_l2=None, grad_dot_input=None):
  n = len(tokens)
  mask = np.zeros(n, np.float32)
  mask[list(explained)] = 1
  if grad_l2 is None:
    grad_l2 = np.linspace(1, 2, n)
  if grad_dot_input is None:
    grad_dot_input = np.linspace(-1, 1, n)
  text = "".join(tokens).replace("▁", " ")
  return explain.Explanation(
      prompt=text, target="", tokens=list(tokens),
      scores={"grad_l2": np.asarray(grad_l2, np.float32),
              "grad_dot_input": np.asarray(grad_dot_input, np.float32)},
      target_mask=mask, prompt_tokens=prompt_tokens)


class _Spans(html.parser.HTMLParser):
  """Text and style of each <span class="lit-gemma-segment">."""

  def __init__(self):
    super().__init__()
    self.spans, self._open = [], None

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if tag == "span" and attrs.get("class") == "lit-gemma-segment":
      self._open = {"text": "", **attrs}
    elif self._open is not None:
      raise AssertionError(f"<{tag}> inside a segment")

  def handle_data(self, data):
    if self._open is not None:
      self._open["text"] += data

  def handle_endtag(self, tag):
    if tag == "span" and self._open is not None:
      self.spans.append(self._open)
      self._open = None


def _spans(markup):
  parser = _Spans()
  parser.feed(markup)
  return parser.spans


def _style(span, name):
  return dict(item.split(":", 1) for item in span["style"].split(";")
              if item).get(name)


def _brightness(hex_colour):
  return sum(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def test_html_has_one_element_per_segment_with_its_text_and_score():
  exp = _explanation()
  segments = exp.segments("word")
  spans = _spans(exp.to_html("word"))
  assert [s["text"] for s in spans] == WORDS
  assert len(spans) == len(segments)
  assert [(int(s["data-start"]), int(s["data-end"])) for s in spans] == [
      (g.start, g.end) for g in segments]
  assert [float(s["data-score"]) for s in spans] == [g.score for g in segments]
  assert exp._repr_html_() == exp.to_html("word", "grad_l2")


def test_html_shows_markup_in_the_text_as_text():
  tokens = ["<", "script", ">", "alert", "(", "1", ")", "</", "script",
            ">", "▁&", "▁co", "\n", "\"", "x", "\""]
  markup = _explanation(tokens, prompt_tokens=12, explained=(14,)).to_html(
      "token")
  assert "<script>" not in markup and "</script>" not in markup
  assert "&amp;" in markup and "&quot;" in markup
  spans = _spans(markup)
  assert [s["text"] for s in spans] == [
      "<", "script", ">", "alert", "(", "1", ")", "</", "script", ">", "&",
      "co", " ", "\"", "x", "\""]


def test_stronger_salience_is_a_more_intense_colour():
  exp = _explanation(grad_l2=[3, 0, 1, 2, 5, 4, 9, 9])
  by_score = sorted((s for s in _spans(exp.to_html("token"))
                     if "outline" not in s["style"]),
                    key=lambda s: float(s["data-score"]))
  brightness = [_brightness(_style(s, "background-color")) for s in by_score]
  assert brightness == sorted(brightness, reverse=True)
  assert len(set(brightness)) == len(brightness)
  assert _style(by_score[0], "background-color") == "#ffffff"  # score 0


def test_colours_are_those_lit_draws():
  # Reference colours computed by d3's own code (the d3-color and
  # d3-interpolate sources shipped with lit-nlp 1.3.1) through colors.ts's
  # ramps: the UI's strongest colour is 0.4 of the way along the ramp.
  unsigned = {0.0: "#ffffff", 0.25: "#ebe7ff", 0.5: "#d7d1ff", 1.0: "#b09ff6"}
  for score, hex_colour in unsigned.items():
    assert render.colour(score, 1.0, signed=False).background == hex_colour
  signed = {1.0: "#65b7be", 0.5: "#b6e9e5", -0.5: "#fed9e3", -1.0: "#f38dad"}
  for score, hex_colour in signed.items():
    assert render.colour(score, 1.0, signed=True).background == hex_colour
  assert render.colour(1.0, 1.0, signed=True).text == "black"


def test_grad_dot_input_is_coloured_by_sign_and_other_methods_by_size():
  exp = _explanation(grad_dot_input=[-2, 1, 0, 2, 0, 0, 0, 0])
  spans = _spans(exp.to_html("token", "grad_dot_input"))
  negative = _style(spans[0], "background-color")
  positive = _style(spans[3], "background-color")
  assert negative == "#f38dad" and positive == "#65b7be"  # mage, cyea
  assert _style(spans[1], "background-color") == "#b6e9e5"  # half of +2
  unsigned = _spans(exp.to_html("token", "grad_l2"))
  assert len({_style(s, "background-color") for s in unsigned}) > 2
  assert methods.is_signed("grad_dot_input")
  assert not methods.is_signed("grad_l2")


def test_the_scale_counts_every_segment_and_explained_ones_are_outlined():
  # As in the UI: the explained segment's own score sets the scale too, but
  # it is drawn outlined and uncoloured.
  exp = _explanation(grad_l2=[1, 1, 1, 1, 1, 1, 10, 0])
  segments = exp.segments("token")
  assert render.colour_scale(segments) == 10
  spans = _spans(exp.to_html("token"))
  assert "outline" in spans[6]["style"]
  assert _style(spans[6], "background-color") is None
  assert _style(spans[0], "background-color") == render.colour(
      1, 10, signed=False).background
  zeros = _explanation(grad_l2=np.zeros(len(TOKENS)))
  assert {_style(s, "background-color")
          for s in _spans(zeros.to_html("token"))} == {"#ffffff", None}


def _segment_texts(fig):
  return [t.get_text() for t in fig.texts
          if (t.get_gid() or "").startswith("segment-")]


def test_figure_holds_the_segment_texts_in_order_and_saves_as_png():
  fig = _explanation().figure("word")
  assert isinstance(fig, figure_lib.Figure)
  assert _segment_texts(fig) == WORDS
  png = io.BytesIO()
  fig.savefig(png, format="png")
  assert png.getvalue().startswith(b"\x89PNG")
  # Jupyter shows it as an image even if pyplot was never imported.
  assert fig._repr_png_().startswith(b"\x89PNG")
  # ... and with `%matplotlib inline` (Colab's default), whose printer skips
  # a Figure that has no Axes.
  assert pylabtools.print_figure(fig, "png").startswith(b"\x89PNG")
  signed = _explanation().figure("sentence", "grad_dot_input")
  assert _segment_texts(signed) == ["Water is made of hydrogen and oxygen."]


def test_figure_wraps_long_text_and_breaks_lines_at_newlines():
  words = ["Salience", "▁shows", "▁which", "▁words", "▁matter", "."] * 8
  tokens = words + ["\n\n", "$", "5", "▁and", "▁$", "6", "$"]
  fig = _explanation(tokens, prompt_tokens=10, explained=(3,),
                     grad_l2=np.arange(len(tokens)) % 7).figure("word",
                                                                width=4)
  artists = [t for t in fig.texts if (t.get_gid() or "").startswith("segment")]
  rows = sorted({round(t.get_position()[1], 6) for t in artists},
                reverse=True)
  assert len(rows) >= 4
  assert all(0 <= t.get_position()[0] < 1 for t in artists)
  last_word = next(t for t in artists if t.get_text() == "matter.")
  dollar = next(t for t in artists if t.get_text() == "$5")
  assert dollar.get_position()[1] < last_word.get_position()[1]
  # "\n\n" is a chip of its own line; "$6$" is text, not math.
  assert _segment_texts(fig)[-4:] == ["  ", "$5", "and", "$6$"]
  assert not any(t.get_parse_math() for t in artists)
  fig.savefig(io.BytesIO(), format="png")


def test_unknown_method_or_granularity_is_a_one_line_error():
  exp = _explanation()
  for call in (lambda: exp.segments("phrase"),
               lambda: exp.to_html("word", "integrated_gradients")):
    with pytest.raises(ValueError) as error:
      call()
    assert "\n" not in str(error.value)
