"""Explanations from a running lit-gemma server, over LIT's own HTTP API, for
a quick question without a model load (`lit-gemma explain --server URL`).

It asks what the Sequence Salience module asks: `_NAME_tokenizer` for the
tokens, `_NAME_salience` with a `target_mask` for the scores, `NAME` for a
response, each as a new datapoint posted to `/get_preds`. The mask and the
Explanation are built by explain/api.py, so the numbers equal a local run's.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

import numpy as np

from lit_gemma import errors
from lit_gemma import explain as explain_lib
from lit_gemma import fields
from lit_gemma.lit import group_kinds

TIMEOUT_S = 600


class RemoteError(errors.UserError):
  """The server could not be reached or refused a request."""


class Remote:
  """One model group of a lit-gemma server at `url`."""

  def __init__(self, url: str, model: str | None = None):
    self.url = url.rstrip("/")
    info = self._call("/get_info", None)
    models = info.get("models", {})
    groups = [n for n in models if not n.startswith("_")
              and fields.salience_name(n) in models]
    # A model's method groups (NAME_loo, ...) are views of the same model.
    groups = [n for n in groups if not any(
        n == f"{g}_{kind}" for g in groups for kind in group_kinds.KINDS)]
    if model is None:
      if len(groups) != 1:
        raise RemoteError(f"{self.url} serves models {groups}: choose one "
                          f"with --server-model")
      model = groups[0]
    elif model not in groups:
      raise RemoteError(f"{self.url} has no model {model!r}; it serves "
                        f"{groups}")
    self.model = model
    datasets = models[model].get("datasets") or list(info.get("datasets",
                                                              {}))
    if not datasets:
      raise RemoteError(f"{self.url}: model {model!r} has no dataset")
    self.dataset = datasets[0]
    spec = models[fields.salience_name(model)]["spec"]["output"]
    self.methods = tuple(n for n, s in spec.items()
                         if s.get("__name__") == "TokenScores")

  def _call(self, endpoint: str, body, **params):
    query = urllib.parse.urlencode(params)
    address = f"{self.url}{endpoint}" + (f"?{query}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        address, data=data, method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"})
    try:
      with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.loads(response.read().decode())
    except urllib.error.HTTPError as e:
      text = e.read().decode(errors="replace").strip()
      first = (text.splitlines() or [""])[0]
      raise RemoteError(f"{self.url}{endpoint}: HTTP {e.code}: {first}"
                        ) from None
    except (urllib.error.URLError, OSError) as e:
      reason = getattr(e, "reason", e)
      raise RemoteError(f"cannot reach {self.url}: {reason}") from None

  def _predict(self, model: str, data: Sequence[dict]) -> list[dict]:
    inputs = []
    for d in data:
      key = hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()
      inputs.append({"id": f"cli-{key}", "data": dict(d, _id=f"cli-{key}"),
                     "meta": {"added": True}})
    return self._call("/get_preds", {"inputs": inputs}, model=model,
                      dataset_name=self.dataset)

  def tokens(self, prompt: str, target: str = "") -> list[str]:
    return self._predict(fields.tokenizer_name(self.model), [
        {fields.PROMPT: prompt, fields.TARGET: target}])[0][fields.TOKENS]

  def generate(self, prompts: Sequence[str]) -> list[str]:
    out = self._predict(self.model, [{fields.PROMPT: p, fields.TARGET: ""}
                                     for p in prompts])
    return [o[fields.RESPONSE] for o in out]

  def explain(self, item: explain_lib.Item,
              methods: Sequence[str] | None = None
              ) -> explain_lib.Explanation:
    """As explain.explain, from the server's tokenizer and salience."""
    if not item.target:
      raise explain_lib.ExplainError("target is empty: give the text to "
                                     "explain after the prompt")
    if item.foil:
      raise explain_lib.ExplainError(
          "--foil needs a model loaded here (the server's contrast group "
          "is for the UI); drop --server")
    names = tuple(methods or self.methods)
    unknown = sorted(set(names) - set(self.methods))
    if unknown:
      raise explain_lib.ExplainError(
          f"the server computes {list(self.methods)}, not {unknown}")
    tokens = self.tokens(item.prompt, item.target)
    prompt_tokens = min(len(self.tokens(item.prompt)), len(tokens))
    if prompt_tokens == len(tokens):
      raise explain_lib.ExplainError(
          "the target has no tokens of its own: it merges into the prompt's "
          "last token; start it at a word boundary")
    mask = explain_lib.target_mask(tokens, item.prompt, item.target,
                                   prompt_tokens, item.span)
    out = self._predict(fields.salience_name(self.model), [{
        fields.PROMPT: item.prompt, fields.TARGET: item.target,
        fields.TARGET_MASK: mask.tolist()}])[0]
    return explain_lib.Explanation(
        prompt=item.prompt, target=item.target, tokens=list(out["tokens"]),
        scores={m: np.asarray(out[m], np.float32) for m in names},
        target_mask=mask, prompt_tokens=prompt_tokens,
        prompt_parts=tuple(tuple(p) for p in item.prompt_parts))
