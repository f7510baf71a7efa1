"""Field names and base specs shared by the models, datasets and the UI.

LIT's Sequence Salience module hard-codes `prompt`, `target`, `response`,
`tokens` and `target_mask`; they are written once here (as LIT's
`examples/prompt_debugging/constants.py` does) so that the model wrappers,
the dataset loaders, templates, segments and the server cannot drift apart.
The data layer imports this module too, so LIT is imported only by the spec
functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
  from lit_nlp.api import types as lit_types

PROMPT = "prompt"
TARGET = "target"
RESPONSE = "response"
TOKENS = "tokens"
TARGET_MASK = "target_mask"
SOURCE = "source"
TEMPLATE_ID = "template_id"
# [start, end, label] character spans of a template-rendered prompt (prompts/parts.py)
PROMPT_PARTS = "prompt_parts"
# A preference datapoint's other response and whether it is the chosen one
# (tuning/sets.py), read by the scoring model.
PAIRED_TARGET = "paired_target"
IS_PREFERRED = "is_preferred"
# The text a target is contrasted with: contrastive salience and scores
# explain log p(target | prompt) - log p(foil | prompt). A preference pair's
# other response, a safety probe's unsafe answer; optional everywhere.
FOIL = "foil"
# Which rows of a prompt, template or tuning file judge the work ("eval")
# and which may shape it ("dev": few-shot examples, template wording, tuning
# data). Evaluation rows must never reach a template's examples or a tuning
# set (prompts/splits.py checks the values; tuning/contamination.py the
# overlap). A row without it is neither.
SPLIT = "split"
DEV, EVAL = "dev", "eval"
SPLITS = (DEV, EVAL)
# A finding's note and who kept it (lit/findings.py): on every dataset of a
# server that keeps findings, so the Datapoint Editor shows them.
NOTE = "note"
AUTHOR = "author"
# A dynamic template's label for a row: the template it was routed to
# (prompts/routes.py); evaluate reports per route.
ROUTE = "route"
# Which rows a refusal is right for ("adversarial") and which it is wrong
# for ("benign"): evaluation/ counts refusal and over-refusal rates by it.
KIND = "kind"
ADVERSARIAL, BENIGN = "adversarial", "benign"
PROMPT_EMBEDDINGS = "prompt_embeddings"
RESPONSE_EMBEDDINGS = "response_embeddings"


def input_spec() -> lit_types.Spec:
  """What every model of a group reads: a prompt and an optional target."""
  from lit_nlp.api import types as lit_types  # pylint: disable=g-import-not-at-top,redefined-outer-name

  return {
      PROMPT: lit_types.TextSegment(),
      TARGET: lit_types.TextSegment(required=False),
  }


def dataset_spec() -> lit_types.Spec:
  """The fields a lit-gemma dataset can have (`response` and `source` only
  when its file gives them)."""
  from lit_nlp.api import types as lit_types  # pylint: disable=g-import-not-at-top,redefined-outer-name

  return input_spec() | {
      RESPONSE: lit_types.TextSegment(required=False),
      SOURCE: lit_types.CategoryLabel(required=False),
  }


def model_read_spec() -> lit_types.Spec:
  """Optional dataset fields that lit-gemma's own models read (lit/columns/scoring.py,
  lit/columns/part_shares.py), typed here once for both sides. LIT serves a model on a
  dataset only if each such field has exactly the model's input type
  (`Model.is_compatible_with_dataset`), so these are never inferred from
  the values (a short response would become a CategoryLabel, a long one a
  String, and the model would silently drop out of the data table)."""
  from lit_nlp.api import types as lit_types  # pylint: disable=g-import-not-at-top,redefined-outer-name

  return {
      PAIRED_TARGET: lit_types.TextSegment(required=False),
      IS_PREFERRED: lit_types.CategoryLabel(required=False),
      PROMPT_PARTS: lit_types.String(required=False),
      FOIL: lit_types.TextSegment(required=False),
  }


def declared_spec() -> lit_types.Spec:
  """Dataset fields whose type is declared, not inferred from the values:
  the ones LIT's Metrics module and data table facet by (a CategoryLabel
  whatever the length of its values)."""
  from lit_nlp.api import types as lit_types  # pylint: disable=g-import-not-at-top,redefined-outer-name

  return {
      TEMPLATE_ID: lit_types.CategoryLabel(required=False),
      SPLIT: lit_types.CategoryLabel(required=False),
      ROUTE: lit_types.CategoryLabel(required=False),
      KIND: lit_types.CategoryLabel(required=False),
  }


def salience_name(name: str) -> str:
  """The LIT model the UI asks for salience of model `name`."""
  return f"_{name}_salience"


def tokenizer_name(name: str) -> str:
  """The LIT model the UI asks for the tokens of model `name`."""
  return f"_{name}_tokenizer"
