"""Explain one (prompt, target) without the UI: which prompt words, sentences
or lines drove the target, as numbers, coloured HTML or a matplotlib figure,
and whether each map is faithful (the deletion test).

    from lit_gemma import explain
    exp = explain.explain(lm, "Water is made of", " hydrogen and oxygen.",
                          span=" oxygen", check="word")
    exp.segments("word")[0]   # Segment(text='Water', ..., score=..., ...)

    exp = explain.explain(lm, "The capital of France is", " Paris.",
                          foil=" Rome.", methods=["loo_word"])  # contrast

The public names below are the package's API; its modules are:
explanation.py (the value), api.py (computing it), registry.py (every
method and what it costs), gradient_maps.py (contrastive gradient maps,
integrated gradients), leave_one_out.py, ablation_fit.py and
ablation_greedy.py (maps made of forward passes, one dispatcher:
ablation_maps.py), segments.py (grouping tokens as
the UI does), render.py and report.py (colours, HTML, text), ablation.py,
faithfulness.py and verdicts.py (is the map faithful?).
"""

from lit_gemma.explain.api import Item, explain, explain_many
from lit_gemma.explain.explanation import (DEFAULT_METHOD, GRANULARITIES,
                                           ExplainError, Explanation,
                                           Segment, Span, target_mask)

__all__ = ["DEFAULT_METHOD", "GRANULARITIES", "ExplainError", "Explanation",
           "Item", "Segment", "Span", "explain", "explain_many",
           "target_mask"]
