"""LIT layouts for prompt debugging, registered by name.

LIT's stock layouts show a dozen modules meant for classifiers; a prompt
debugger needs three: the data table to pick a prompt, the datapoint editor
to change it, and Sequence Salience to see what drove the answer. Both
prompt layouts keep all three on screen at once, so that "edit the prompt,
see the salience change" needs no tab switching; a third, the data map,
shows a tuning set's queries by their query vectors. Pick one with
`--default_layout` or `?layout=NAME` in the page URL.
"""

from lit_nlp.api import layout

_modules = layout.LitModuleName

PROMPT_DEBUGGING = "prompt_debugging"
WIDE_PROMPT = "wide_prompt"
EVALUATION = "evaluation"
DATA_MAP = "data_map"
DEFAULT_LAYOUT = PROMPT_DEBUGGING

# Data table on the left; salience over the editor on the right.
PROMPT_DEBUGGING_LAYOUT = layout.LitCanonicalLayout(
    left={
        "Examples": [_modules.DataTableModule],
    },
    upper={
        "Sequence Salience": [_modules.SequenceSalienceModule],
    },
    lower={
        "Datapoint Editor": [_modules.SingleDatapointEditorModule],
    },
    layoutSettings=layout.LayoutSettings(leftWidth=35, mainHeight=62),
    description=(
        "Prompt debugging: pick an example on the left, pick a target and "
        "click part of it to see which prompt segments drove it; edit the "
        "prompt below and add it to see the salience change."
    ),
)

# Salience across the full width and most of the height, for long prompts
# (few-shot templates, articles); table and editor share a tab strip below.
WIDE_PROMPT_LAYOUT = layout.LitCanonicalLayout(
    upper={
        "Sequence Salience": [_modules.SequenceSalienceModule],
    },
    lower={
        "Examples": [_modules.SimpleDataTableModule],
        "Datapoint Editor": [_modules.SingleDatapointEditorModule],
    },
    layoutSettings=layout.LayoutSettings(mainHeight=72),
    description=(
        "Wide prompt: Sequence Salience across the whole page for long "
        "prompts; the example table and the editor are tabs below it."
    ),
)

# Templates and checkpoints judged: the Metrics module (lit-gemma
# evaluate's figures for each selected NAME_eval model, faceted by
# template_id, split, route or kind) above the salience of one row.
EVALUATION_LAYOUT = layout.LitCanonicalLayout(
    left={
        "Examples": [_modules.DataTableModule],
    },
    upper={
        "Metrics": [_modules.MetricsModule],
        "Sequence Salience": [_modules.SequenceSalienceModule],
    },
    lower={
        "Datapoint Editor": [_modules.SingleDatapointEditorModule],
    },
    layoutSettings=layout.LayoutSettings(leftWidth=40, mainHeight=55),
    description=(
        "Evaluation: select NAME_eval models in the model picker for "
        "lit-gemma evaluate's figures in Metrics (facet by template_id, "
        "split, route or kind); with two checkpoints, AFTER_vs_BEFORE adds "
        "each row's change to the data table."
    ),
)

# The tuning data as the model reads it: LIT's Embeddings projector (PCA)
# over the `query_vector` field the hygiene annotator adds (the vectors the
# topics and near duplicates use), beside the data table. Colour it with
# LIT's "Color by" (or `color_by=topic` in the URL): by topic, policy,
# hygiene_flags, ... Needs --near_duplicate_columns.
DATA_MAP_LAYOUT = layout.LitCanonicalLayout(
    left={
        "Examples": [_modules.DataTableModule],
    },
    upper={
        "Data map": [_modules.EmbeddingsModule],
    },
    lower={
        "Datapoint Editor": [_modules.SingleDatapointEditorModule],
    },
    layoutSettings=layout.LayoutSettings(leftWidth=40, mainHeight=70),
    description=(
        "Data map: each query of a tuning set where the model reads it "
        "(PCA of the query vectors its topics and near duplicates come "
        "from). Color by topic, policy or hygiene_flags to see clusters, "
        "outliers and duplicates; select points to see them in the table."
    ),
)

LAYOUTS: layout.LitComponentLayouts = {
    PROMPT_DEBUGGING: PROMPT_DEBUGGING_LAYOUT,
    WIDE_PROMPT: WIDE_PROMPT_LAYOUT,
    EVALUATION: EVALUATION_LAYOUT,
    DATA_MAP: DATA_MAP_LAYOUT,
}
