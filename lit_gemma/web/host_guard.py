"""Which requests a server answers at all: its own host names, same-site.

A local server is reachable by every web page its user opens. Two checks
keep such pages out, neither by content type (LIT's own client posts JSON
as `text/plain`, as a cross-site form could):
  - Host: a local server answers only requests addressed to the names it
    serves (loopback names, the name it listens on, `--allowed_hosts`), so
    a page that rebinds its own DNS name to 127.0.0.1 gets 421. A team
    server (`--team_mode`) answers every name (Cloud Run and IAP own them).
  - Origin / Sec-Fetch-Site: an API request sent by a page of another site
    is answered 403 in every mode. Browsers set these headers and pages
    cannot forge them; scripts (curl, Python) send neither and are served.
    Static files (the UI itself) are served to any site, so links work.

An `--allowed_hosts` entry is a host name (`lit.example.com`), or
`*.example.com` for every name under it, or `*` for any.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

LOOPBACK = ("localhost", "127.0.0.1", "::1")
# Fetch metadata values a page of another site gets.
_CROSS_SITE = ("cross-site", "same-site")


def _host_name(authority: str) -> str:
  """`host[:port]` or `[v6]:port` -> the lower-case host name."""
  authority = authority.strip().lower()
  if authority.startswith("["):
    return authority[1:].partition("]")[0]
  if authority.count(":") > 1:  # A bare IPv6 address.
    return authority
  return authority.partition(":")[0].rstrip(".")


def _matches(name: str, pattern: str) -> bool:
  if pattern == "*":
    return True
  if pattern.startswith("*."):
    return name.endswith(pattern[1:])
  return name == pattern


class HostGuard:
  """Refuses requests to foreign host names and cross-site API requests."""

  def __init__(self, *, team_mode: bool, listen_host: str = "127.0.0.1",
               allowed_hosts: Iterable[str] = ()):
    self.team_mode = team_mode
    names = [*LOOPBACK, *(h.strip().lower() for h in allowed_hosts if h)]
    listen = _host_name(listen_host)
    if listen not in ("", "0.0.0.0", "::"):
      names.append(listen)
    self.allowed = tuple(dict.fromkeys(names))

  def host_allowed(self, name: str) -> bool:
    return any(_matches(name, p) for p in self.allowed)

  def refusal(self, environ: dict, api: bool) -> tuple[str, str, str] | None:
    """(status, message, details) for a request to refuse, else None.

    Args:
      environ: the WSGI environ.
      api: whether the path is one of LIT's endpoints (not a static file).
    """
    host = _host_name(environ.get("HTTP_HOST") or
                      environ.get("SERVER_NAME", ""))
    if not self.team_mode and not self.host_allowed(host):
      return ("421 MISDIRECTED REQUEST",
              f"this server does not serve the host name {host[:80]!r}",
              "add it with --allowed_hosts if it is yours")
    if not api:
      return None
    site = environ.get("HTTP_SEC_FETCH_SITE", "").lower()
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
      parsed = urllib.parse.urlsplit(origin)
      own = (origin != "null" and parsed.netloc.lower() ==
             (environ.get("HTTP_HOST") or "").lower())
      if not own and not (parsed.hostname and
                          self.host_allowed(parsed.hostname) and
                          not self.team_mode):
        return ("403 FORBIDDEN",
                f"requests from the page {origin[:80]!r} are refused",
                "only this server's own pages may call its API")
      return None  # A listed origin (a notebook's proxy) may be same-site.
    if site in _CROSS_SITE:
      return ("403 FORBIDDEN", "requests from another site are refused",
              "only this server's own pages may call its API")
    return None
