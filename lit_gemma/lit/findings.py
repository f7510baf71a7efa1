"""Findings in LIT: the team's findings as a dataset, a note and an author
field on every dataset, and the desk that keeps a finding when a teammate
adds a datapoint with a note.

LIT 1.3.1 has no "save with a note" control, so keeping a finding is built
from what LIT has:
  1. In the Datapoint Editor a teammate edits a datapoint (or not), types
     what they found in its `note` field (on a server without IAP, their
     name in `author` too) and presses "Add".
  2. LIT's client sends it to /annotate_new_data marked as typed by hand
     (`meta.source` "manual"). With a note, `FindingsDesk.new_datapoints`
     keeps it (findings/store.py): the datapoint's fields as LIT gave them,
     the note, the author (IAP's verified email, else the typed name marked
     unverified: a name in a header is never trusted), the time, the
     dataset, and the span last explained for that prompt in Sequence
     Salience (its target and target_mask; LIT never sends the span with
     the datapoint, so the desk remembers each salience request's).
  3. The `findings` dataset lists every finding with its author and time;
     others see a new one when they open or reload the page. Selecting one
     puts its link in the address bar (`?dataset=findings&primary=ID`),
     which opens it for anyone on the server. Its `target` is the text
     whose span was explained, and `span` that span's text: click it in
     Sequence Salience to see the salience the author saw.
A datapoint added without a note, or re-created from a link (`meta.source`
"url"), is not a finding. Nothing here changes or removes a finding.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Mapping
from typing import Any

from lit_nlp.api import dataset as lit_dataset
from lit_nlp.api import types as lit_types

from lit_gemma import errors
from lit_gemma import fields
from lit_gemma.findings import store as store_lib
from lit_gemma.prompts import chat_formats
from lit_gemma.web import iap
from lit_gemma.web import request_checks

DATASET = "findings"  # The LIT dataset of the team's findings.
NOTE, AUTHOR = fields.NOTE, fields.AUTHOR
CREATED, FROM, SPAN, FINDING = "created", "dataset", "span", "finding"
UNVERIFIED = "unverified"
_MANUAL = "manual"        # LIT's meta.source of a datapoint typed by hand.
_MOST_AUTHOR_CHARS = 80
_SPANS_KEPT = 512         # Salience requests remembered, newest kept.
# A finding's own fields: not part of the datapoint it keeps.
_OWN = (NOTE, AUTHOR, CREATED, FROM, SPAN, FINDING)


def note_spec() -> lit_types.Spec:
  """The fields every dataset gets while findings are kept."""
  return {NOTE: lit_types.TextSegment(required=False),
          AUTHOR: lit_types.CategoryLabel(required=False)}


class WithNoteFields(lit_dataset.Dataset):
  """`base` with empty `note` and `author` fields (other attributes, such
  as a file dataset's `path`, are the base's)."""

  def __init__(self, base: lit_dataset.Dataset):
    self.wrapped = base
    super().__init__(
        base=base, spec=base.spec() | note_spec(),
        examples=[{NOTE: "", AUTHOR: ""} | dict(ex) for ex in base.examples])

  def __getattr__(self, name: str):
    if name == "wrapped":
      raise AttributeError(name)
    return getattr(self.wrapped, name)


def view_spec() -> lit_types.Spec:
  """The findings dataset's fields: what a teammate reads (the datapoint's
  other fields are in the export; see `view`)."""
  return fields.input_spec() | note_spec() | {
      CREATED: lit_types.String(required=False),
      FROM: lit_types.CategoryLabel(required=False),
      SPAN: lit_types.String(required=False),
      FINDING: lit_types.String(required=False)}


# Fields the models read, passed on with a finding when it has them (not
# shown: the Datapoint Editor would show them empty on most findings).
_READ_BY_MODELS = (*fields.model_read_spec(), chat_formats.FIELD)


def author_shown(record: Mapping[str, Any]) -> str:
  return (record["author"] if record["verified"]
          else f"{record['author']} ({UNVERIFIED})")


def view(record: Mapping[str, Any]) -> dict[str, Any]:
  """A finding as a datapoint of the findings dataset. Its target is the
  text whose span was explained (the model's response, if that was it)."""
  data = record["data"]
  explained = record.get("span") or {}
  return {k: data[k] for k in _READ_BY_MODELS if data.get(k)} | {
      fields.PROMPT: data.get(fields.PROMPT, ""),
      fields.TARGET: explained.get("target", data.get(fields.TARGET) or ""),
      NOTE: record["note"], AUTHOR: author_shown(record),
      CREATED: record["created"], FROM: record["dataset"],
      SPAN: explained.get("text", ""), FINDING: record["finding"]}


class FindingsDataset(lit_dataset.Dataset):
  """The team's findings, oldest first, read from the store on each use
  (internals.LiveIndexedDataset indexes them again when `version` moves)."""

  def __init__(self, store: store_lib.FindingsStore):
    self.store = store
    super().__init__(spec=view_spec(), examples=[])

  def description(self) -> str:
    return ("The team's findings: datapoints kept with a note (type one in "
            "the Datapoint Editor's note field and press Add)")

  @property
  def examples(self) -> list[dict[str, Any]]:
    return [view(r) for r in self.store.findings()]

  def __len__(self) -> int:
    return self.store.version()

  def version(self) -> int:
    return self.store.version()


class FindingsDesk:
  """Keeps findings from /annotate_new_data and remembers spans from the
  salience requests that precede them.

  Args:
    store: where findings go.
    verifier: IAP's assertion check; None: no IAP, authors are typed.
    tokens: (model name, {prompt, target}) -> the tokens the UI shows
      (to tell the text under a target_mask).
  """

  def __init__(self, store: store_lib.FindingsStore,
               verifier: iap.Verifier | None,
               tokens: Callable[[str, dict], list[str]]):
    self.store = store
    self.verifier = verifier
    self._tokens = tokens
    self._lock = threading.Lock()
    self._spans: collections.OrderedDict = collections.OrderedDict()

  def dataset(self) -> FindingsDataset:
    return FindingsDataset(self.store)

  def _who(self, environ: Mapping[str, Any], typed: Any) -> tuple[str, bool]:
    """(author, verified) of a request."""
    if self.verifier is not None:
      return self.verifier.email(environ), True
    name = " ".join(str(typed or "").split()).removesuffix(
        f" ({UNVERIFIED})")
    if not name:
      raise request_checks.BadRequest(
          "type your name in the author field: this server has no IAP to "
          "tell who keeps a finding")
    if len(name) > _MOST_AUTHOR_CHARS:
      raise request_checks.BadRequest(
          f"the author is {len(name)} characters, over the limit of "
          f"{_MOST_AUTHOR_CHARS}")
    return name, False

  def _requester(self, environ: Mapping[str, Any]) -> str | None:
    """Whose salience request this is, for the span memory (None: anyone's
    on a server without IAP, or an assertion that does not verify)."""
    if self.verifier is None:
      return None
    try:
      return self.verifier.email(environ)
    except errors.RequestError:  # Not verified, or IAP's keys unreadable.
      return None

  def salience_served(self, model: str, inputs: list[dict],
                      environ: Mapping[str, Any]) -> None:
    """Remembers the spans of a /get_preds request to `_NAME_salience`."""
    name = model.removeprefix("_").removesuffix("_salience")
    if model != fields.salience_name(name):
      return
    requester = self._requester(environ)
    with self._lock:
      for ex in inputs:
        data = ex.get("data", {})
        mask = data.get(fields.TARGET_MASK)
        if not mask or not isinstance(data.get(fields.PROMPT), str):
          continue
        key = (requester, data[fields.PROMPT])
        self._spans.pop(key, None)
        self._spans[key] = (name, data.get(fields.TARGET) or "", list(mask))
        while len(self._spans) > _SPANS_KEPT:
          self._spans.popitem(last=False)

  def _explained(self, requester: str | None, prompt: str):
    with self._lock:
      found = self._spans.get((requester, prompt))
    if found is None:
      return None
    model, target, mask = found
    tokens = self._tokens(model, {fields.PROMPT: prompt,
                                  fields.TARGET: target})
    text = ("".join(t for t, m in zip(tokens, mask) if m).replace(
        "\u2581", " ") if len(tokens) == len(mask) else "")
    return store_lib.span(model, target, mask, text)

  def new_datapoints(self, dataset_name: str, inputs: list[dict],
                     environ: Mapping[str, Any]) -> None:
    """Keeps each input typed by hand with a note as a finding, and shows
    its author (and, on the findings dataset, the whole finding) in the
    datapoint LIT then adds to the page. Raises a RequestError (4xx, one
    line) if one cannot be kept; nothing is kept then."""
    kept = []
    for ex in inputs:
      data, meta = ex.get("data"), ex.get("meta") or {}
      if (not isinstance(data, dict) or meta.get("source") != _MANUAL
          or not str(data.get(NOTE) or "").strip()):
        continue
      if not isinstance(data[NOTE], str):
        raise request_checks.BadRequest("the note must be text")
      author, verified = self._who(environ, data.get(AUTHOR))
      kept.append((ex, author, verified))
    for ex, author, verified in kept:
      data = ex["data"]
      datapoint = {k: v for k, v in data.items()
                   if k not in _OWN and not k.startswith("_")}
      origin = (str(data.get(FROM) or DATASET) if dataset_name == DATASET
                else dataset_name)
      record = self.store.add(
          author=author, verified=verified, note=data[NOTE],
          dataset=origin, data=datapoint,
          parent=(ex.get("meta") or {}).get("parentId"),
          explained=self._explained(author if verified else None,
                                    str(data.get(fields.PROMPT, ""))))
      shown = (view(record) if dataset_name == DATASET
               else {NOTE: record["note"], AUTHOR: author_shown(record)})
      ex["data"] = {**data, **shown}
