"""LIT's pending-request bars, drawn cheaply: a click on a 2-core machine
keeps its CPU for the model.

While a request is out, LIT draws a 2-pixel bar that runs across the status
bar and each waiting module (`@keyframes running-progress`). It moves by
animating `margin-left`, `margin-right` and `width` at every frame, so the
browser lays out and repaints the page 60 times a second: in Chromium on
the served page (2 cores, the embedded model, a 128-token click) ~150
layouts and ~2.5 CPU-seconds of the browser per click, taken from the
model's passes (a salience computation of 1.0 s over plain HTTP took
2.1-2.7 s under the click). This module serves LIT's `main.js` with each
such keyframe rewritten as the same path in `transform`
(`translateX(left) scaleX(width)` from the bar's left edge), which needs no
layout, run in 10 steps per cycle instead of a smooth curve (5 changes a
second, still visibly moving): the same click then took 1.0-1.3 s in the
server, 6 layouts. Everything else in the file is LIT's, byte for byte.
"""

from __future__ import annotations

import functools
import os
import re

from absl import logging

from lit_gemma.lit import offline_fonts

MAIN_JS = "/main.js"  # Where LIT's index.html loads its client from.
_KEYFRAMES = re.compile(
    r"(@(?:-webkit-)?keyframes running-progress\s*\{)((?:\s*[\d.]+%\s*\{"
    r"[^{}]*\})+)(\s*\})")
_STOP = re.compile(r"([\d.]+%)\s*\{([^{}]*)\}")
_LENGTH = re.compile(r"(margin-left|margin-right|width)\s*:\s*([\d.]+)%?")
# The bars' rules: the transform grows from the left edge, a bar keeps its
# full width (the animation no longer sets it), and moves in steps.
_ANIMATION = re.compile(
    r"(?<![\w-])animation: running-progress ([\d.]+m?s) [a-z-]+(?:\([^)]*\))?")
STEPS = 10


def _transform(stop_body: str) -> str | None:
  """One keyframe's margins and width as a transform (None: not a bar's)."""
  found = {k: float(v) for k, v in _LENGTH.findall(stop_body)}
  if "margin-left" not in found:
    return None
  left = found["margin-left"]
  width = found.get("width", 100.0 - left - found.get("margin-right", 0.0))
  return (f"transform: translateX({left:g}%) "
          f"scaleX({max(width, 0.0) / 100:g});")


def _moved(match: re.Match) -> str | None:
  """A bar's keyframes block in `transform`; None if a stop is not a bar's."""
  stops = []
  for percent, body in _STOP.findall(match.group(2)):
    moved = _transform(body)
    if moved is None:
      return None
    stops.append(f"\n  {percent} {{ {moved} }}")
  return match.group(1) + "".join(stops) + match.group(3)


def rewrite(script: str) -> tuple[str, int]:
  """(`script` with its bars' keyframes in `transform`, how many keyframe
  blocks were rewritten)."""
  blocks = 0

  def replace(match: re.Match) -> str:
    nonlocal blocks
    moved = _moved(match)
    blocks += moved is not None
    return match.group(0) if moved is None else moved

  script = _KEYFRAMES.sub(replace, script)
  script = _ANIMATION.sub(
      lambda m: "transform-origin: left; margin-left: 0; margin-right: 0; "
      f"animation: running-progress {m.group(1)} steps({STEPS})", script)
  return script, blocks


@functools.lru_cache(maxsize=4)
def main_js(client_root: str) -> bytes:
  """LIT's main.js with its pending-request bars drawn by the compositor."""
  with open(os.path.join(client_root, "main.js"), encoding="utf-8") as f:
    script, blocks = rewrite(f.read())
  if not blocks:
    logging.warning("LIT's main.js has no running-progress keyframes; its "
                    "pending-request bars are served as they are")
  return script.encode("utf-8")


def answer(environ, start_response, client_root: str):
  """main.js as main_js() rewrites it; None for any other path (LIT's
  own cache time: an hour)."""
  if environ.get("PATH_INFO", "") != MAIN_JS:
    return None
  return offline_fonts.send(environ, start_response, main_js(client_root),
                            "text/javascript; charset=utf-8",
                            "private, max-age=3600")
