"""LIT's pending-request bars move by transform, in steps: the rest of
main.js is LIT's own (lit/progress_bar.py)."""

import re

from werkzeug import test as werkzeug_test

from lit_gemma.lit import internals
from lit_gemma.lit import progress_bar

_BLOCK = re.compile(r"@(?:-webkit-)?keyframes running-progress\s*\{"
                    r"((?:\s*[\d.]+%\s*\{[^{}]*\})+)\s*\}")


def _lit_main_js() -> str:
  with open(f"{internals.lit_client_root()}/main.js", encoding="utf-8") as f:
    return f.read()


def test_every_bar_keyframe_moves_by_transform_along_lits_path():
  original = _lit_main_js()
  rewritten, blocks = progress_bar.rewrite(original)
  assert blocks == len(_BLOCK.findall(original)) == 3
  for body in _BLOCK.findall(rewritten):
    assert "margin" not in body and "width" not in body, body
  # The module's bar: at half time it spans 35%..100% of the module, as
  # LIT's `margin-left: 35%; width: 65%` did; the status bar's 25%..100%.
  found = [b for b in _BLOCK.findall(rewritten) if "35%" in b]
  assert found and "50% { transform: translateX(35%) scaleX(0.65); }" in (
      found[0])
  assert "50% { transform: translateX(25%) scaleX(0.75); }" in rewritten
  rules = re.findall(r"(?<![\w-])animation: running-progress[^;]*;",
                     rewritten)
  assert len(rules) == 2 and all("steps(10)" in r for r in rules), rules


def test_nothing_else_in_main_js_changes():
  original = _lit_main_js()
  rewritten, _ = progress_bar.rewrite(original)
  strip = lambda s: _BLOCK.sub("", s).replace(
      "transform-origin: left; margin-left: 0; margin-right: 0; ", "")
  no_timing = re.compile(r"(animation: running-progress 2s) [^;]*;")
  assert no_timing.sub(r"\1;", strip(rewritten)) == no_timing.sub(
      r"\1;", strip(original))


def test_a_client_without_the_bars_is_served_as_it_is():
  script = "const css = `.x { animation: spin 1s linear; }`;"
  assert progress_bar.rewrite(script) == (script, 0)


def test_main_js_is_answered_and_other_paths_are_not():
  root = internals.lit_client_root()
  answered = []

  def app(environ, start_response):
    served = progress_bar.answer(environ, start_response, root)
    answered.append(served is not None)
    if served is None:
      start_response("404 NOT FOUND", [])
      return []
    return served

  client = werkzeug_test.Client(app)
  response = client.get("/main.js")
  assert response.status_code == 200
  assert response.mimetype == "text/javascript"
  assert response.get_data() == progress_bar.main_js(root)
  assert client.head("/main.js").get_data() == b""
  assert client.get("/static/favicon.png").status_code == 404
  assert answered == [True, True, False]
