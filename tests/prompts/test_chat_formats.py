"""Chat formats: each family's turn markers, and a chat template rendered
once per format of the loaded models."""

import json

import pytest

from lit_gemma.prompts import chat_formats
from lit_gemma.prompts import templates
from lit_gemma.prompts import template_files


def test_gemma_and_gemma4_turns_render_exactly():
  assert templates.chat_prompt("Hi") == (
      "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")
  assert templates.chat_prompt("Hi", "gemma4") == (
      "<|turn>user\nHi<turn|>\n<|turn>model\n")


def test_unknown_format_is_refused_in_one_line():
  with pytest.raises(ValueError, match=r"unknown chat format 'llama' "
                     r"\(known: gemma, gemma4\)"):
    templates.chat_prompt("Hi", "llama")


def _write(tmp_path, entries):
  path = tmp_path / "t.json"
  path.write_text(json.dumps(entries))
  return str(path)


def test_chat_template_expands_once_per_format(tmp_path):
  path = _write(tmp_path, [
      {"id": "ask", "template": "Capital of {{c}}?", "chat": True,
       "rows": [{"c": "France"}, {"c": "Peru"}]},
      {"id": "plain", "template": "{{c}} is", "rows": [{"c": "Chad"}]},
  ])
  rows = template_files.render_file(path, chat_format_names=("gemma", "gemma4"))
  chat = [r.data for r in rows if r.data["template_id"] == "ask"]
  assert [(d["c"], d["chat_format"]) for d in chat] == [
      ("France", "gemma"), ("France", "gemma4"),
      ("Peru", "gemma"), ("Peru", "gemma4")]
  assert chat[1]["prompt"] == "<|turn>user\nCapital of France?<turn|>\n" \
      "<|turn>model\n"
  (plain,) = [r.data for r in rows if r.data["template_id"] == "plain"]
  assert plain["prompt"] == "Chad is" and "chat_format" not in plain


def test_one_format_renders_as_before(tmp_path):
  path = _write(tmp_path, [{"id": "ask", "template": "Q: {{q}}",
                            "chat": True, "rows": [{"q": "why"}]}])
  (only,) = template_files.render_file(path)
  assert only.data["prompt"] == templates.chat_prompt("Q: why")
  assert "chat_format" not in only.data
  (g4,) = template_files.render_file(path, chat_format_names=("gemma4",))
  assert g4.data["prompt"].startswith("<|turn>user\n")


def test_mismatch_says_which_datapoint_to_pick():
  assert chat_formats.mismatch(None, "gemma4") is None
  assert chat_formats.mismatch("gemma4", "gemma4") is None
  line = chat_formats.mismatch("gemma", "gemma4")
  assert "\n" not in line
  assert "'gemma' chat format" in line and "chat_format='gemma4'" in line
