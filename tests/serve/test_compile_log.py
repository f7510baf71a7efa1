"""The server's log says when the warm-up is done and what each salience
request compiled: the lines tests/serve/test_first_click.py and
`benchmarks/server.py --browser` read (issue 13)."""

import logging
import re

from lit_gemma import fields
from lit_gemma.models import loading
from lit_gemma.models import warmup

_REQUEST = re.compile(r"salience of 1 text\(s\) of \[(\d+)\] tokens, "
                      r"bucket\(s\) \[(\d+)\] in [\d.]+ s, (\d+) programs "
                      r"compiled during it \((\d+) so far\)")


def _lines(caplog, pattern):
  return [m.groups() for r in caplog.records
          if (m := pattern.search(r.getMessage()))]


def test_warm_up_done_line_then_a_click_logs_no_compile(tiny_presets, caplog):
  from lit_gemma.salience import compilation  # pylint: disable=g-import-not-at-top

  lm = loading.load_model(str(tiny_presets["gemma3"]))
  prompt, target = "one two three four", " five six"
  before = compilation.lowerings()
  with caplog.at_level(logging.INFO, logger="absl"):
    warmup.start({"tiny": lm}, [{fields.PROMPT: prompt,
                                 fields.TARGET: target}],
                 max_new_tokens=4, max_length=64).join(timeout=300)
    done = _lines(caplog, re.compile(r"warm-up done: (\d+) buckets in "
                                     r"[\d.]+ s \((\d+) programs"))
    assert not _lines(caplog, _REQUEST)  # Warm-up units are no requests.
    lm.salience(prompt, target)  # A warmed bucket: nothing to compile.
  assert done and int(done[0][0]) >= 1, caplog.text
  assert int(done[0][1]) > before  # The warm-up's compiles were counted.
  ((length, bucket, compiled, total),) = _lines(caplog, _REQUEST)
  assert int(length) <= int(bucket)
  assert compiled == "0"
  assert int(total) == int(done[0][1])
