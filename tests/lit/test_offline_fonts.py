"""The page and its fonts come from our server, not from a font CDN."""

import re

from werkzeug import test as werkzeug_test

from lit_gemma.lit import internals
from lit_gemma.lit import offline_fonts

_EXTERNAL = re.compile(r"https?://", re.I)


def _client():
  root = internals.lit_client_root()

  def app(environ, start_response):
    served = offline_fonts.answer(environ, start_response, root)
    assert served is not None, environ["PATH_INFO"]
    return served

  return werkzeug_test.Client(app)


def test_index_and_css_name_no_external_host():
  client = _client()
  page = client.get("/").get_data(as_text=True)
  assert "<lit-app>" in page and "main.js" in page
  links = re.findall(r'<link[^>]*href="([^"]+)"', page)
  assert "lit-gemma-fonts/fonts.css" in links
  assert not [link for link in links if _EXTERNAL.match(link)], links
  assert client.get("/index.html").get_data(as_text=True) == page

  css = client.get("/lit-gemma-fonts/fonts.css")
  assert css.status_code == 200 and css.mimetype == "text/css"
  text = css.get_data(as_text=True)
  assert not _EXTERNAL.search(text)
  # The families LIT's CSS names, each with a file we serve.
  for family in ("Material Icons", "Material Icons Outlined", "Roboto",
                 "Google Sans", "Share Tech Mono"):
    assert f"font-family: '{family}';" in text, family
  for url in set(re.findall(r"url\(([^)]+)\)", text)):
    font = client.get(f"/lit-gemma-fonts/{url}")
    assert font.status_code == 200 and font.mimetype == "font/woff2", url
    assert font.get_data()[:4] == b"wOF2", url


def test_unknown_font_path_is_a_short_404():
  client = _client()
  for path in ("/lit-gemma-fonts/nope.woff2", "/lit-gemma-fonts/../setup.py",
               "/lit-gemma-fonts/"):
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.get_data(as_text=True).count("\n") == 0
