"""Salience as coloured text: HTML for notebooks and a matplotlib figure,
coloured as LIT's Sequence Salience module colours its chips.

What the UI does (lit-nlp 1.3.1), and so what this does:
- The colour scale runs from 0 to the largest |score| of all segments shown
  (the explained ones included), at least 1e-3.
- `grad_dot_input` gets a signed map: pink (LIT's "mage") for negative
  scores, white at 0, blue-green ("cyea") for positive ones. Every other
  method gets an unsigned map from white to purple.
- With the default "colormap intensity" of 0.4, a segment's colour is taken
  at |score| / scale * 0.4 of the way from white to the end of the ramp, so
  the most salient segment is a mid tone and the text stays black.
- The explained segments are drawn outlined, without colour.
- A newline at either end of a segment becomes a line break, and a leading
  space is shown as a gap before the chip rather than inside it.

Sources followed: lit_nlp/client/modules/sequence_salience_module.ts
(`cmapDomain`, `cmapGamma`, `signedSalienceCmap`, `unsignedSalienceCmap`,
`cmap`, `renderContent`), lit_nlp/client/lib/colors.ts (`SalienceCmap`,
`labBrandColors`, `labVizColors`, `CONTINUOUS_SIGNED_LAB`,
`CONTINUOUS_UNSIGNED_LAB`, `BRAND_COLORS`, `VIZ_COLORS`), and
lit_nlp/client/elements/token_chips.ts and token_chips.css (`renderToken`:
`breakNewlines`, `preSpace`). The ramps are rebuilt as d3 builds them: 256
colours interpolated in CIELAB (d3-color's D50 conversion) between the
palette's anchors, then a uniform RGB B-spline through them
(`d3.interpolateRgbBasis`).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import io
import math
from collections.abc import Sequence

from matplotlib import figure as figure_lib
from matplotlib import font_manager
from matplotlib import patches
from matplotlib.backends import backend_agg
import numpy as np

from lit_gemma.explain import segments as segments_lib

INTENSITY = 0.4  # the UI's default "colormap intensity" (CMAP_DEFAULT_RANGE)
MIN_SCALE = 1e-3
EXPLAINED_OUTLINE = "#b7166a"  # LIT's mage-700, the UI's selected-chip outline
CAPTION_COLOUR = "#5f6368"

# Anchors of the UI's ramps (colors.ts): white to VizColor purple, and
# Brand mage (negative) through white to Brand cyea (positive).
_PURPLE = ("#ffffff", "#cdc5ff", "#9b86ef", "#7647ea", "#270086")
_MAGE = ("#FEEAEF", "#FED5E0", "#F9A9C0", "#EF7CA1", "#E25287", "#CE2F75",
         "#B7166A", "#800060", "#470046")
_CYEA = ("#CDF2FA", "#AFE6DE", "#7BCCCC", "#52A6B3", "#348199", "#1F6180",
         "#114566", "#092F4D", "#041D33")
_SIGNED = tuple(reversed(_MAGE)) + ("#ffffff",) + _CYEA

# d3-color's CIELAB: sRGB -> XYZ adapted to D50.
_WHITE_D50 = np.array([0.96422, 1.0, 0.82521])
_RGB_TO_XYZ = np.array([[0.4360747, 0.3850649, 0.1430804],
                        [0.2225045, 0.7168786, 0.0606169],
                        [0.0139322, 0.0971045, 0.7141733]])
_XYZ_TO_RGB = np.array([[3.1338561, -1.6168667, -0.4906146],
                        [-0.9787684, 1.9161415, 0.0334540],
                        [0.0719453, -0.2289914, 1.4052427]])
_T0, _T1 = 4 / 29, 6 / 29


def _round(values) -> np.ndarray:
  """Channels as d3 writes them: JavaScript's Math.round, clamped."""
  return np.clip(np.floor(np.asarray(values) + 0.5), 0, 255)


def _hex_rgb(colour: str) -> np.ndarray:
  return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], float)


def _to_lab(rgb: np.ndarray) -> np.ndarray:
  c = rgb / 255
  linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
  xyz = _RGB_TO_XYZ @ linear / _WHITE_D50
  if linear[0] == linear[1] == linear[2]:
    xyz[:] = xyz[1]  # greys: exactly a = b = 0, as d3 does
  f = np.where(xyz > _T1**3, np.cbrt(xyz), xyz / (3 * _T1**2) + _T0)
  return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _from_lab(lab: np.ndarray) -> np.ndarray:
  fy = (lab[0] + 16) / 116
  f = np.array([fy + lab[1] / 500, fy, fy - lab[2] / 200])
  xyz = _WHITE_D50 * np.where(f > _T1, f**3, 3 * _T1**2 * (f - _T0))
  linear = _XYZ_TO_RGB @ xyz
  return _round(255 * np.where(linear <= 0.0031308, 12.92 * linear,
                               1.055 * np.abs(linear)**(1 / 2.4) - 0.055))


@functools.cache
def _ramp_points(anchors: tuple[str, ...]) -> np.ndarray:
  """The 256 RGB colours d3 samples from `anchors`, interpolated in LAB."""
  labs = [_to_lab(_hex_rgb(c)) for c in anchors]
  pieces = len(anchors) - 1
  points = []
  for i in range(256):
    x = i / 256 * pieces
    k = min(int(x), pieces - 1)
    points.append(_from_lab(labs[k] + (x - k) * (labs[k + 1] - labs[k])))
  return np.array(points)


def _ramp(anchors: tuple[str, ...], t: float) -> np.ndarray:
  """d3.interpolateRgbBasis over the ramp's points, at t in [0, 1]."""
  points = _ramp_points(anchors)
  n = len(points) - 1
  t = min(max(t, 0.0), 1.0)
  i = min(math.floor(t * n), n - 1)
  v1, v2 = points[i], points[i + 1]
  v0 = points[i - 1] if i > 0 else 2 * v1 - v2
  v3 = points[i + 2] if i < n - 1 else 2 * v2 - v1
  s = (t - i / n) * n
  s2, s3 = s * s, s * s * s
  return _round(((1 - 3 * s + 3 * s2 - s3) * v0 + (4 - 6 * s2 + 3 * s3) * v1
                 + (1 + 3 * s + 3 * s2 - 3 * s3) * v2 + s3 * v3) / 6)


def colour_scale(segments: Sequence[segments_lib.Segment]) -> float:
  """The |score| that gets the strongest colour: the largest one shown."""
  return max([MIN_SCALE] + [abs(s.score) for s in segments])


@dataclasses.dataclass(frozen=True)
class Colour:
  """A chip's colours as CSS hex strings."""

  background: str
  text: str


def colour(score: float, scale: float, signed: bool) -> Colour:
  """The chip colour LIT's UI gives `score` on a scale of +-`scale`."""
  clamped = min(max(score, -scale if signed else 0.0), scale)
  lightness = INTENSITY * abs(clamped) / scale
  if signed:
    rgb = _ramp(_SIGNED, 0.5 + math.copysign(lightness, clamped) / 2)
  else:
    rgb = _ramp(_PURPLE, lightness)
  hex_colour = "#" + "".join(f"{int(c):02x}" for c in rgb)
  return Colour(hex_colour, "black" if lightness <= 0.5 else "white")


@dataclasses.dataclass(frozen=True)
class _Chip:
  """How one segment is laid out (token_chips.ts, dense text mode)."""

  break_before: bool
  space_before: bool
  text: str
  break_after: bool


def _chip(text: str) -> _Chip:
  """A newline at either end becomes a line break, a leading space a gap."""
  break_after = text.endswith("\n")
  if break_after:
    text = text[:-1] + " "
  break_before = text.startswith("\n")
  if break_before:
    text = " " + text[1:]
  space_before = text.startswith(" ") and not break_before
  if space_before:
    text = text[1:]
  return _Chip(break_before, space_before, text or " ", break_after)


def to_html(segments: Sequence[segments_lib.Segment], signed: bool,
            caption: str = "") -> str:
  """Self-contained HTML: one <span class="lit-gemma-segment"> per segment,
  coloured by its score, with its score and token range as attributes."""
  scale = colour_scale(segments)
  parts = []
  for segment in segments:
    chip = _chip(segment.text)
    style = "border-radius:2px;padding:3px 0;"
    if segment.is_explained:
      style += f"outline:2px solid {EXPLAINED_OUTLINE};"
    else:
      c = colour(segment.score, scale, signed)
      style += f"background-color:{c.background};color:{c.text};"
    parts.append(
        ("<br>" if chip.break_before else "")
        + (" " if chip.space_before else "")
        + f'<span class="lit-gemma-segment" style="{style}" '
        f'title="{segment.score:.3g}" data-score="{segment.score!r}" '
        f'data-start="{segment.start}" data-end="{segment.end}" '
        f'data-part="{segment.part}">{html.escape(chip.text)}</span>'
        + ("<br>" if chip.break_after else ""))
  header = ""
  if caption:
    header = (f'<div style="color:{CAPTION_COLOUR};font-size:12px;'
              f'margin-bottom:4px">{html.escape(caption)}</div>')
  return ('<div class="lit-gemma-salience" style="font-family:Roboto,Arial,'
          'sans-serif;font-size:14px;line-height:24px;color:black;'
          'background:white;padding:6px">' + header
          + '<div style="white-space:pre-wrap">' + "".join(parts)
          + "</div></div>")


class SalienceFigure(figure_lib.Figure):
  """A Figure that Jupyter shows as a PNG even where pyplot was never
  imported (IPython knows plain Figures only through pyplot's backend)."""

  def _repr_png_(self) -> bytes:
    png = io.BytesIO()
    self.savefig(png, format="png")
    return png.getvalue()


def figure(segments: Sequence[segments_lib.Segment], signed: bool,
           caption: str = "", width: float = 8.0,
           font_size: float = 11.0) -> SalienceFigure:
  """A matplotlib Figure of the coloured segments, wrapped at `width` inches.

  Each segment's chip is a coloured rectangle under one Text artist (one per
  line if its chip holds a newline) whose gid is "segment-<index>"; the
  caption's gid is "caption". Drawn on the Agg canvas, without pyplot, so
  nothing is kept in pyplot's list of open figures.
  """
  fig = SalienceFigure(figsize=(width, 1), dpi=100)
  # An empty, hidden Axes: IPython's inline backend (Colab's default, or
  # `%matplotlib inline`) draws nothing for a Figure without Axes.
  fig.add_axes((0, 0, 1, 1)).set_axis_off()
  renderer = backend_agg.FigureCanvasAgg(fig).get_renderer()
  font = font_manager.FontProperties(size=font_size)

  def text_width(text: str) -> float:
    # Measured between two letters so that leading/trailing spaces count.
    wide = renderer.get_text_width_height_descent(f"x{text}x", font, False)
    bare = renderer.get_text_width_height_descent("xx", font, False)
    return wide[0] - bare[0]

  margin = font_size
  line_height = font_size * 1.9 * fig.dpi / 72
  right = width * fig.dpi - margin
  space = text_width(" ")
  placed = []  # (x, width, row, text, segment index), in pixels and rows
  x, row = margin, 0

  def new_row():
    nonlocal x, row
    x, row = margin, row + 1

  for index, segment in enumerate(segments):
    chip = _chip(segment.text)
    if chip.break_before:
      new_row()
    if chip.space_before:
      x += space
    for k, line in enumerate(chip.text.split("\n")):
      if k:
        new_row()
      w = text_width(line)
      if x + w > right and x > margin:
        new_row()
      placed.append((x, w, row, line, index))
      x += w
    if chip.break_after:
      new_row()

  top = margin / 2 + (line_height if caption else 0.0)
  rows = max([p[2] for p in placed] + [0]) + 1
  width_px, height_px = width * fig.dpi, top + rows * line_height + margin / 2
  fig.set_size_inches(width, height_px / fig.dpi)
  if caption:
    baseline = margin / 2 + 0.7 * line_height
    fig.text(margin / width_px, 1 - baseline / height_px, caption,
             color=CAPTION_COLOUR, fontsize=font_size * 0.85, va="baseline",
             parse_math=False, wrap=True, gid="caption")
  scale = colour_scale(segments)
  for x, w, row, line, index in placed:
    segment = segments[index]
    row_top = top + row * line_height
    if segment.is_explained:
      fill, edge, text_colour = "white", EXPLAINED_OUTLINE, "black"
    else:
      c = colour(segment.score, scale, signed)
      fill, edge, text_colour = c.background, "none", c.text
    fig.add_artist(patches.Rectangle(
        (x / width_px, 1 - (row_top + 0.9 * line_height) / height_px),
        w / width_px, 0.75 * line_height / height_px,
        transform=fig.transFigure, facecolor=fill, edgecolor=edge,
        linewidth=1.5))
    fig.text(x / width_px, 1 - (row_top + 0.7 * line_height) / height_px,
             line, fontproperties=font, color=text_colour, va="baseline",
             parse_math=False, gid=f"segment-{index}")
  return fig
