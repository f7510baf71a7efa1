"""Token strings as LIT's Sequence Salience module should show them.

The UI finds word boundaries by the SentencePiece marker `▁` (and draws it
as a space) and line boundaries by newline characters, so pieces keep `▁`,
byte-fallback pieces such as `<0x0A>` become the characters they encode, and
a character spread over several byte pieces is shown once, on its first
piece, so that joining the tokens reads as the text.
"""

from collections.abc import Sequence
import re

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def _utf8_length(first_byte: int) -> int:
  """Bytes in the UTF-8 sequence that starts with `first_byte` (0: invalid)."""
  if first_byte < 0x80:
    return 1
  for length, lead in ((2, 0xC0), (3, 0xE0), (4, 0xF0)):
    if first_byte >> (7 - length) == lead >> (7 - length):
      return length
  return 0


def display_tokens(pieces: Sequence[str]) -> list[str]:
  """Display strings for SentencePiece pieces, one per piece."""
  shown = list(pieces)
  byte_of = [_BYTE_PIECE.match(p) for p in pieces]
  i = 0
  while i < len(pieces):
    if not byte_of[i]:
      i += 1
      continue
    length = _utf8_length(int(byte_of[i].group(1), 16))
    run = byte_of[i : i + length] if length else []
    if length and len(run) == length and all(run):
      raw = bytes(int(m.group(1), 16) for m in run)
      try:
        shown[i] = raw.decode("utf-8")
        for j in range(i + 1, i + length):
          shown[j] = ""
        i += length
        continue
      except UnicodeDecodeError:
        pass
    i += 1  # a stray byte: keep its <0xNN> spelling
  return shown
