"""Who sent a request, as Identity-Aware Proxy (IAP) vouches for it.

Behind IAP (Cloud Run's `--iap`, or a load balancer), every request
carries `x-goog-iap-jwt-assertion`: a JSON Web Token signed by Google with
ES256, naming the signed-in user. `Verifier.email` checks it as Google
documents (https://cloud.google.com/iap/docs/signed-headers-howto): the
algorithm is ES256 (never "none" or a shared secret), the signature is by
one of the published keys (by `kid`), the issuer is IAP, the audience is
this service's (`--iap_audience`), and the token is current. Anything else
is `NotVerified` (401, one line). Headers that merely name a user
(`x-goog-authenticated-user-email`) are never read: anyone can send them.

The keys come from `--iap_keys`: Google's JWK set by default, or another
URL or a file in the same format (tests sign with their own key). A URL is
fetched on first use and again when a token names an unknown key (at most
every 5 minutes) or after a day; a file is read again when it changes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from lit_gemma import errors

ASSERTION_HEADER = "x-goog-iap-jwt-assertion"
_ENVIRON_KEY = "HTTP_X_GOOG_IAP_JWT_ASSERTION"
GOOGLE_KEYS = "https://www.gstatic.com/iap/verify/public_key-jwk"
ISSUER = "https://cloud.google.com/iap"
_LEEWAY_S = 30          # Clock difference tolerated on exp and iat.
_REFETCH_AFTER_S = 300  # Least time between fetches for an unknown kid.
_KEYS_FOR_S = 86400     # Fetched keys are kept this long.
_MOST_TOKEN_BYTES = 8192


class NotVerified(errors.RequestError):
  """No valid IAP assertion; the message says what is wrong (401)."""

  http_status = 401


class KeysUnavailable(errors.RequestError):
  """The key source cannot be read (503: the server's problem)."""

  http_status = 503


def _b64(part: str, what: str) -> bytes:
  try:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
  except (binascii.Error, ValueError):
    raise NotVerified(f"the IAP assertion's {what} is not base64url") from None


def _json(part: str, what: str) -> dict:
  try:
    value = json.loads(_b64(part, what))
  except ValueError:
    raise NotVerified(f"the IAP assertion's {what} is not JSON") from None
  if not isinstance(value, dict):
    raise NotVerified(f"the IAP assertion's {what} is not a JSON object")
  return value


def public_key(jwk: Mapping[str, Any]):
  """An EC P-256 public key from its JWK; ValueError if it is not one."""
  # pylint: disable=g-import-not-at-top  (only servers that verify need it)
  from cryptography.hazmat.primitives.asymmetric import ec

  if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
    raise ValueError(f"key {jwk.get('kid')!r} is not an EC P-256 key")
  x, y = (int.from_bytes(_b64(jwk[k], "key"), "big") for k in ("x", "y"))
  return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


class Verifier:
  """Checks IAP assertions for one audience.

  Args:
    audience: this service's IAP audience, e.g.
      `/projects/NUMBER/locations/REGION/services/NAME` (Cloud Run's IAP)
      or `/projects/NUMBER/global/backendServices/ID` (a load balancer).
    keys: a URL or a file of a JWK set (`{"keys": [...]}`).
    clock: seconds since the epoch.
  """

  def __init__(self, audience: str, keys: str = GOOGLE_KEYS,
               clock: Callable[[], float] = time.time):
    self.audience = audience
    self.keys_source = keys
    self._clock = clock
    self._lock = threading.Lock()
    self._keys: dict[str, Any] = {}
    self._fetched_at = None   # monotonic time of the last URL fetch
    self._file_stamp = None   # (mtime, size) of the file last read

  def email(self, environ: Mapping[str, Any]) -> str:
    """The verified user's email; NotVerified otherwise."""
    token = environ.get(_ENVIRON_KEY, "")
    if not token:
      raise NotVerified(f"the request has no {ASSERTION_HEADER} header: this "
                        f"server trusts only identities IAP signs")
    if len(token) > _MOST_TOKEN_BYTES or token.count(".") != 2:
      raise NotVerified("the IAP assertion is not a JSON Web Token")
    head, body, signature = token.split(".")
    header = _json(head, "header")
    if header.get("alg") != "ES256":
      raise NotVerified(f"the IAP assertion is signed with "
                        f"{str(header.get('alg'))[:20]!r}, not ES256")
    key = self._key(str(header.get("kid", "")))
    self._check_signature(key, f"{head}.{body}".encode(),
                          _b64(signature, "signature"))
    return self._check_claims(_json(body, "payload"))

  def _check_signature(self, key, signed: bytes, signature: bytes) -> None:
    # pylint: disable=g-import-not-at-top
    from cryptography import exceptions
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric import utils

    if len(signature) != 64:
      raise NotVerified("the IAP assertion's signature is not an ES256 "
                        "signature")
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                     int.from_bytes(signature[32:], "big"))
    try:
      key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except exceptions.InvalidSignature:
      raise NotVerified("the IAP assertion's signature does not match its "
                        "key") from None

  def _check_claims(self, claims: dict) -> str:
    now = self._clock()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool)
               for t in (exp, iat)):
      raise NotVerified("the IAP assertion has no exp or iat time")
    if now > exp + _LEEWAY_S:
      raise NotVerified("the IAP assertion has expired")
    if iat > now + _LEEWAY_S:
      raise NotVerified("the IAP assertion is issued in the future")
    if claims.get("iss") != ISSUER:
      raise NotVerified(f"the IAP assertion's issuer is not {ISSUER}")
    if claims.get("aud") != self.audience:
      raise NotVerified("the IAP assertion is for another audience than "
                        "this server's (--iap_audience)")
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip() or len(email) > 320:
      raise NotVerified("the IAP assertion names no email")
    return email.strip().removeprefix("accounts.google.com:")

  # ---------------------------------------------------------------- keys

  def _key(self, kid: str):
    with self._lock:
      if kid not in self._keys or self._stale():
        self._load(force=kid not in self._keys)
      if kid not in self._keys:
        raise NotVerified(f"the IAP assertion's key {kid[:40]!r} is not one "
                          f"of the keys of {self.keys_source}")
      return self._keys[kid]

  def _stale(self) -> bool:
    if self._is_url():
      return (self._fetched_at is None
              or time.monotonic() - self._fetched_at > _KEYS_FOR_S)
    return self._file_stamp != _stamp(self.keys_source)

  def _is_url(self) -> bool:
    return self.keys_source.startswith(("https://", "http://"))

  def _load(self, force: bool) -> None:
    try:
      if self._is_url():
        recent = (self._fetched_at is not None and
                  time.monotonic() - self._fetched_at < _REFETCH_AFTER_S)
        if recent and not self._stale() and force:
          return  # An unknown kid: fetched a moment ago already.
        with urllib.request.urlopen(self.keys_source, timeout=10) as answer:
          text = answer.read(1 << 20).decode()
        self._fetched_at = time.monotonic()
      else:
        self._file_stamp = _stamp(self.keys_source)
        with open(self.keys_source, encoding="utf-8") as f:
          text = f.read(1 << 20)
      keys = json.loads(text)["keys"]
      self._keys = {k["kid"]: public_key(k) for k in keys
                    if k.get("alg", "ES256") == "ES256"}
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise KeysUnavailable(f"cannot read IAP's keys from "
                            f"{self.keys_source}: "
                            f"{str(e).splitlines()[0][:100]}") from None


def _stamp(path: str):
  try:
    stat = os.stat(path)
  except OSError:
    return None
  return stat.st_mtime_ns, stat.st_size
