"""Chat turn formats, by name (each family's record names the one its
models speak: lit_gemma/models/families/).

Why this module exists: a prompt template's `chat: true` wraps the prompt as
a user turn followed by the model-turn opener, and the markers differ by
family: Gemma 1-3 and Gemma 3n use `<start_of_turn>` / `<end_of_turn>`,
Gemma 4 uses `<|turn>` / `<turn|>` (its official chat template, and the
token keras-hub's `Gemma4CausalLM` stops at). A LIT datapoint holds one
prompt string, so a chat template is rendered once per format of the loaded
models, each datapoint naming its format in `chat_format`.
"""

from __future__ import annotations

import dataclasses

FIELD = "chat_format"  # the datapoint field naming a chat prompt's format


@dataclasses.dataclass(frozen=True)
class ChatFormat:
  """The text around one user turn and the model-turn opener."""

  name: str
  user_start: str
  turn_end: str
  model_start: str

  def prompt(self, user_text: str) -> str:
    """A user turn, then the opener of the model's turn."""
    return f"{self.user_start}{user_text}{self.turn_end}{self.model_start}"


GEMMA = ChatFormat("gemma", "<start_of_turn>user\n", "<end_of_turn>\n",
                   "<start_of_turn>model\n")
# Gemma 4's template without thinking: E2B/E4B open the model turn with
# nothing more; 26B/31B's template adds an empty thought channel, which the
# prompt author can write into the template text if wanted.
GEMMA4 = ChatFormat("gemma4", "<|turn>user\n", "<turn|>\n", "<|turn>model\n")
FORMATS = {f.name: f for f in (GEMMA, GEMMA4)}
DEFAULT = GEMMA.name


def get(name: str) -> ChatFormat:
  """The format called `name`; a ValueError names the known ones."""
  if name not in FORMATS:
    raise ValueError(f"unknown chat format {name!r} (known: "
                     f"{', '.join(FORMATS)})")
  return FORMATS[name]


def mismatch(datapoint_format: str | None, model_format: str) -> str | None:
  """Why a model should not explain a datapoint (one line), or None: a chat
  prompt written for another family's turn markers."""
  if datapoint_format is None or datapoint_format == model_format:
    return None
  return (f"this datapoint's prompt is in the {datapoint_format!r} chat "
          f"format, but the model speaks {model_format!r}; pick the "
          f"datapoint rendered with {FIELD}={model_format!r}")
