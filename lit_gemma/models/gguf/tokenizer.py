"""GGUF vocabulary -> SentencePiece model proto, for keras-hub's tokenizers.

Why this module exists: a GGUF carries its tokenizer as lists (pieces,
scores, llama.cpp token types) and keras-hub's Gemma tokenizers need a
SentencePiece model proto. The rebuilt proto must tokenize exactly as the
model's own tokenizer; the choices that make it so are documented on
`sentencepiece_proto`. Only the pieces matched in text (chat turn markers)
differ by family, and the caller passes them.
"""

from __future__ import annotations

import pathlib
from typing import Iterable

from lit_gemma.models.gguf import merges as merges_lib
from lit_gemma.models.gguf import reader

# Gemma 1-3's chat turn markers (the default, for callers without a family).
GEMMA_TURN_MARKERS = ("<start_of_turn>", "<end_of_turn>")
_SPACE = "\u2581"  # SentencePiece's whitespace symbol


def sentencepiece_proto(gguf_reader, path: pathlib.Path,
                        text_tokens: Iterable[str] = GEMMA_TURN_MARKERS
                        ) -> bytes:
  """Rebuilds the Gemma SentencePiece model from the GGUF vocabulary.

  The choices below are the ones that reproduce Gemma's own tokenizer:
  `<unk>` UNKNOWN, chat turn markers USER_DEFINED (so they are matched in
  text), whitespace runs spelled with U+2581, no dummy prefix, no text
  normalization, byte fallback, BPE over the GGUF scores. `text_tokens`
  are the family's pieces to match in text (its chat turn markers).
  """
  from sentencepiece import sentencepiece_model_pb2 as pb  # pylint: disable=g-import-not-at-top

  meta = reader.Meta(gguf_reader, path)
  model = meta.get("tokenizer.ggml.model", None)
  if model not in ("llama", "gemma4"):
    raise reader.fail(path, f"tokenizer model {model!r} is neither "
                      "SentencePiece ('llama', Gemma 1-3) nor Gemma 4's BPE "
                      "('gemma4')")
  tokens = meta.get("tokenizer.ggml.tokens")
  scores = meta.get("tokenizer.ggml.scores")
  if model == "gemma4":  # Scores are placeholders; the merges rank pieces.
    scores = merges_lib.scores(
        [t.replace(" ", _SPACE) for t in tokens],
        meta.get("tokenizer.ggml.merges"), path)
  types = meta.get("tokenizer.ggml.token_type")
  if not len(tokens) == len(scores) == len(types):
    raise reader.fail(path, "tokenizer tokens, scores and types differ in "
                      "length")
  unk_id = int(meta.get("tokenizer.ggml.unknown_token_id", 3))
  special = {
      "bos": int(meta.get("tokenizer.ggml.bos_token_id")),
      "eos": int(meta.get("tokenizer.ggml.eos_token_id")),
      "pad": int(meta.get("tokenizer.ggml.padding_token_id")),
      "unk": unk_id,
  }
  for role, i in special.items():
    if not 0 <= i < len(tokens):
      raise reader.fail(path, f"{role} token id {i} is outside the "
                        "vocabulary")

  piece_type = pb.ModelProto.SentencePiece.Type
  # llama.cpp's token types (gguf.TokenType) -> SentencePiece piece types.
  by_gguf_type = {1: piece_type.NORMAL, 2: piece_type.UNKNOWN,
                  3: piece_type.CONTROL, 4: piece_type.USER_DEFINED,
                  5: piece_type.UNUSED, 6: piece_type.BYTE}
  matched_in_text = set(text_tokens)
  proto = pb.ModelProto()
  seen = set()
  for i, (token, score, kind) in enumerate(zip(tokens, scores, types)):
    kind = by_gguf_type.get(int(kind))
    if kind is None:
      raise reader.fail(path, f"token {i} {token!r} has unknown type")
    if i == unk_id:
      kind = piece_type.UNKNOWN
    elif kind == piece_type.UNKNOWN:
      kind = piece_type.CONTROL
    elif token in matched_in_text:
      kind = piece_type.USER_DEFINED
    if kind != piece_type.BYTE:
      token = token.replace(" ", _SPACE)
    if not token or token in seen:
      raise reader.fail(path, f"token {i} {token!r} is empty or repeated")
    seen.add(token)
    piece = proto.pieces.add()
    piece.piece, piece.score, piece.type = token, float(score), kind

  trainer = proto.trainer_spec
  trainer.model_type = pb.TrainerSpec.BPE
  trainer.vocab_size = len(tokens)
  trainer.byte_fallback = True
  trainer.allow_whitespace_only_pieces = True
  trainer.split_digits = True
  trainer.treat_whitespace_as_suffix = False
  for role, i in special.items():
    setattr(trainer, f"{role}_id", i)
    setattr(trainer, f"{role}_piece", proto.pieces[i].piece)
  normalizer = proto.normalizer_spec
  normalizer.name = "identity"
  normalizer.add_dummy_prefix = bool(
      meta.get("tokenizer.ggml.add_space_prefix", False))
  normalizer.remove_extra_whitespaces = False
  normalizer.escape_whitespaces = True
  return proto.SerializeToString()
