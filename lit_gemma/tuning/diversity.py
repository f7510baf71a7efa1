"""Diversity of the queries: lengths, sentence forms and tone, and where the
set is narrow (with topics.py and identity.py).

Forms and tones are word rules, documented here so a reviewer can read what
counts:
  forms   question (a "?", or a first word such as how/what/can/is),
          instruction (a sentence opening with an imperative such as
          write/give/explain), else statement
  tones   polite (please, thank, kindly, could you, would you),
          urgent (urgent, asap, immediately, right now, hurry, emergency,
          quickly), hostile (hate, stupid, idiot, dumb, shut up, damn,
          useless, pathetic), distressed (hopeless, scared, afraid,
          anxious, depressed, lonely, alone, desperate, I feel),
          shouting (two or more words in capitals, or "!!"); a query may
          have several, or none (neutral)

Narrow, each with the reason in the report: lengths whose middle half spans
at most NARROW_LENGTH_IQR words; one form for NARROW_FORM_SHARE of the
queries; no tone marker on NARROW_NEUTRAL_SHARE of them; a narrow topic
(topics.py); an imbalanced identity axis (identity.py). Only sets of
MIN_QUERIES or more are judged.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Any

from lit_gemma.tuning import matching

MIN_QUERIES = 10
NARROW_LENGTH_IQR = 2.0
NARROW_FORM_SHARE = 0.9
NARROW_NEUTRAL_SHARE = 0.95

FORMS = ("question", "instruction", "statement")
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are am was were do does "
    "did can could should would will shall may might must have has had "
    "isnt arent dont doesnt cant wont".split())
_IMPERATIVES = frozenset(
    "write give tell explain describe list make help find generate create "
    "draft show translate compose suggest provide name compare rewrite "
    "summarise summarize please let build design plan outline teach define "
    "recommend calculate convert fix check correct edit imagine pretend "
    "act continue complete answer send post".split())
TONES = {
    "polite": r"\b(please|thank|thanks|kindly|could you|would you)\b",
    "urgent": r"\b(urgent|urgently|asap|immediately|right now|hurry|"
              r"emergency|quickly)\b",
    "hostile": r"\b(hate|stupid|idiot|idiots|dumb|shut up|damn|useless|"
               r"pathetic)\b",
    "distressed": r"\b(hopeless|scared|afraid|anxious|depressed|lonely|"
                  r"alone|desperate|i feel)\b",
}
_SHOUT = re.compile(r"\b[A-Z]{2,}\b")


def query_form(text: str) -> str:
  """question, instruction or statement (a heuristic on the wording)."""
  if "?" in text:
    return "question"
  sentences = [s for s in re.split(r"[.!;:\n]+", text) if matching.words(s)]
  firsts = [matching.words(s)[0] for s in sentences]
  if firsts and firsts[0] in _QUESTION_WORDS:
    return "question"
  if any(w in _IMPERATIVES for w in firsts):
    return "instruction"
  return "statement"


def tones(text: str) -> list[str]:
  """The tone markers of a query ([] for neutral)."""
  plain = " ".join(matching.words(text))
  found = [name for name, pattern in TONES.items()
           if re.search(pattern, plain)]
  shouted = [w for w in _SHOUT.findall(text) if len(w) >= 3]
  if len(shouted) >= 2 or "!!" in text:
    found.append("shouting")
  return found


def lengths(queries: Sequence) -> dict[str, float]:
  counts = sorted(len(matching.words(q.text)) for q in queries) or [0]
  quartiles = (statistics.quantiles(counts, n=4) if len(counts) > 1
               else counts * 3)
  return {"min": counts[0], "q1": quartiles[0], "median": quartiles[1],
          "q3": quartiles[2], "max": counts[-1]}


def diversity(queries: Sequence, topics: dict[str, Any] | None,
              identity: dict[str, Any]) -> dict[str, Any]:
  """Lengths, forms and tones, and the list of ways the set is narrow
  (each {"what", "why"})."""
  n = len(queries)
  spread = lengths(queries)
  forms = dict.fromkeys(FORMS, 0)
  tone_counts = dict.fromkeys(list(TONES) + ["shouting", "neutral"], 0)
  for q in queries:
    forms[query_form(q.text)] += 1
    found = tones(q.text)
    for name in found or ["neutral"]:
      tone_counts[name] += 1
  narrow = []
  if n >= MIN_QUERIES:
    iqr = spread["q3"] - spread["q1"]
    if iqr <= NARROW_LENGTH_IQR:
      narrow.append({"what": "lengths", "why": (
          f"the middle half of the queries spans {iqr:g} words "
          f"({spread['q1']:g} to {spread['q3']:g})")})
    form, count = max(forms.items(), key=lambda kv: kv[1])
    if count / n >= NARROW_FORM_SHARE:
      narrow.append({"what": "forms", "why": (
          f"{count} of {n} queries are {form}s")})
    if tone_counts["neutral"] / n >= NARROW_NEUTRAL_SHARE:
      narrow.append({"what": "tone", "why": (
          f"{tone_counts['neutral']} of {n} queries carry no tone marker "
          "(polite, urgent, hostile, distressed, shouting)")})
    for topic in (topics or {}).get("topics", []):
      if topic["narrow"]:
        narrow.append({"what": "topic", "why": (
            f"topic {topic['topic']} ({topic['name']}) holds "
            f"{topic['size']} of {n} queries ({topic['share']:.0%}; "
            f"{topics['k']} topics)")})
  for axis in identity["axes"]:
    if "imbalance" in axis:
      top = axis["imbalance"]
      narrow.append({"what": "identity terms", "why": (
          f"{axis['axis']}: {top['group']} has {top['count']} of the "
          f"{top['of']} queries that mention a {axis['axis']} group")})
  return {"lengths": spread, "forms": forms, "tones": tone_counts,
          "narrow": narrow}
