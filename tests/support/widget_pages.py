"""What a notebook test reads off a widget: its iframe, and whether its
port still listens."""

import html.parser
import socket


class _IframeFinder(html.parser.HTMLParser):

  def __init__(self):
    super().__init__()
    self.sources: list[str] = []

  def handle_starttag(self, tag, attrs):
    if tag == "iframe":
      self.sources.append(dict(attrs).get("src") or "")


def iframe_src(html_text: str) -> str:
  """The `src` of the one iframe in a rendered output."""
  finder = _IframeFinder()
  finder.feed(html_text)
  assert len(finder.sources) == 1, html_text
  return finder.sources[0]


def refused(port: int) -> bool:
  """Whether connecting to the loopback `port` is refused (nothing listens)."""
  try:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
  except ConnectionRefusedError:
    return True
  return False
