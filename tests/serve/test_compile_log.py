"""The warm-up compiles a click's programs without running them, and the
server's log says what each request met: the lines
tests/serve/test_first_click.py and `benchmarks/server.py` read."""

import logging
import re

from lit_gemma import fields
from lit_gemma.models import loading
from lit_gemma.models import warmup

_REQUEST = re.compile(r"salience of 1 text\(s\) of \[(\d+)\] tokens, "
                      r"bucket\(s\) \[(\d+)\] in [\d.]+ s: (\d+) programs "
                      r"compiled during it in any thread \((\d+) on its "
                      r"own\), (\d+) background units ran during it")
_DONE = re.compile(r"warm-up: done: (\d+) buckets in [\d.]+ s \((\d+) "
                   r"programs compiled\)")


def _lines(caplog, pattern):
  return [m.groups() for r in caplog.records
          if (m := pattern.search(r.getMessage()))]


def test_warm_up_compiles_what_a_click_uses_and_keeps_no_text(
    tiny_presets, caplog):
  from lit_gemma.salience import compilation  # pylint: disable=g-import-not-at-top

  lm = loading.load_model(str(tiny_presets["gemma3"]))
  prompt, target = "one two three four", " five six"
  with caplog.at_level(logging.INFO, logger="absl"):
    ready = warmup.warm_up({"tiny": lm}, [{fields.PROMPT: prompt,
                                           fields.TARGET: target}],
                           max_new_tokens=4, max_length=64)
    assert lm.engine.kept_texts == 0  # Nothing ran: no filler is kept.
    before = compilation.lowerings()
    lm.salience(prompt, target)  # The first click on the text...
    lm.salience(prompt, target, span=(0, 1))  # ... and another span.
  assert ready == 1
  ((buckets, compiled),) = _lines(caplog, _DONE)
  assert buckets == "1" and int(compiled) >= 2, caplog.text
  assert compilation.lowerings() == before
  requests = _lines(caplog, _REQUEST)
  assert len(requests) == 2, caplog.text
  for length, bucket, anywhere, own, background in requests:
    assert int(length) <= int(bucket)
    assert (anywhere, own, background) == ("0", "0", "0")
  assert lm.engine.kept_texts == 1  # The user's text, the only one kept.
