"""Explanations as a terminal shows them (ANSI colours, or plain text when
the output is not a terminal) and as one self-contained HTML file
(html_page.py).

The colours are the UI's (render.py): a segment's background is the chip
colour LIT gives its score, in 24-bit ANSI; the explained segments are
underlined instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lit_gemma import html_page
from lit_gemma.explain import render
from lit_gemma.explain import segments as segments_lib
from lit_gemma.explain import registry

if TYPE_CHECKING:
  from lit_gemma import explain as explain_lib

TOP = 5  # segments listed per method


def _ansi(segment: segments_lib.Segment, scale: float, signed: bool) -> str:
  if segment.is_explained:
    return f"\x1b[1;4m{segment.text}\x1b[0m"
  c = render.colour(segment.score, scale, signed)
  r, g, b = (int(c.background[i : i + 2], 16) for i in (1, 3, 5))
  fg = "97" if c.text == "white" else "30"
  return f"\x1b[{fg};48;2;{r};{g};{b}m{segment.text}\x1b[0m"


def _label(segment: segments_lib.Segment) -> str:
  return f"[{segment.label}] " if segment.label else ""


def method_text(exp: "explain_lib.Explanation", granularity: str,
                method: str, colour: bool) -> str:
  """One method's map: its caption, the coloured text (in a terminal) or
  the text with the explained span in [[ ]], and its top prompt segments."""
  segments = exp.segments(granularity, method)
  lines = [exp.caption(granularity, method)]
  if colour:
    scale = render.colour_scale(segments)
    lines.append("".join(_ansi(s, scale, registry.is_signed(method))
                         for s in segments))
  else:
    lines.append("".join(f"[[{s.text}]]" if s.is_explained else s.text
                         for s in segments))
  prompt = [s for s in segments if s.part == segments_lib.PROMPT]
  ranked = sorted(prompt, key=lambda s: -abs(s.score))[:TOP]
  lines.append(f"top {len(ranked)} of {len(prompt)} prompt segments:")
  lines += [f"  {s.score:+.4g}  {_label(s)}{s.text!r}" for s in ranked]
  return "\n".join(lines)


def text(exp: "explain_lib.Explanation", granularity: str,
         methods: Sequence[str], colour: bool = False) -> str:
  """Every method's map, then the faithfulness checks, as text."""
  blocks = [method_text(exp, granularity, m, colour) for m in methods]
  if exp.faithfulness:
    blocks.append("faithfulness (deletion test, ERASER, ablation):\n"
                  + "\n".join("  " + f.summary() for f in exp.faithfulness))
  return "\n\n".join(blocks) + "\n"


VERDICT_HEADER = ("method", "granularity", "k", "top-k drop",
                  "random 90th pct", "verdict", "gain over random",
                  "comprehensiveness (AOPC)", "sufficiency (AOPC)",
                  "Spearman vs ablation")


def _number(value: float | None, form: str) -> str:
  return "n/a" if value is None else format(value, form)


def verdict_row(f) -> tuple:
  """One verdict (verdicts.Faithfulness) as VERDICT_HEADER's cells."""
  return (f.method, f.granularity, f.k, f"{f.top_k_drop:.3f}",
          f"{f.random_threshold:.3f}",
          "better than random" if f.better_than_random
          else "NO BETTER THAN RANDOM", f"{f.gain:+.3f}",
          _number(f.comprehensiveness, "+.3f"),
          _number(f.sufficiency, "+.3f"), _number(f.spearman, "+.2f"))


def html_report(exp: "explain_lib.Explanation", granularity: str,
                methods: Sequence[str]) -> str:
  """One self-contained HTML file: each method's map, then the checks."""
  body = [html_page.paragraph(exp.caption(granularity, m),
                              exp.to_html(granularity, m)) for m in methods]
  if exp.faithfulness:
    body.append(html_page.section("Faithfulness") + html_page.table(
        VERDICT_HEADER, [verdict_row(f) for f in exp.faithfulness]))
  return html_page.page(f"lit-gemma: salience of {exp.explained_text!r}",
                        "".join(body))
