"""Identity-Aware Proxy assertions signed by a test's own key: what IAP
puts in `x-goog-iap-jwt-assertion`, made the way Google makes them (ES256
JSON Web Tokens), and the JWK set a server reads the public key from."""

from __future__ import annotations

import base64
import json
import pathlib
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils

from lit_gemma.web import iap

AUDIENCE = "/projects/123456789/locations/us-central1/services/lit-gemma"


def _b64(data: bytes) -> str:
  return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
  """An EC P-256 key pair that signs IAP-style assertions."""

  def __init__(self, kid: str = "test-key-1"):
    self.kid = kid
    self.key = ec.generate_private_key(ec.SECP256R1())

  def jwks(self) -> dict:
    numbers = self.key.public_key().public_numbers()
    return {"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
        "kid": self.kid, "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big"))}]}

  def write_keys(self, path: pathlib.Path) -> pathlib.Path:
    path.write_text(json.dumps(self.jwks()))
    return path

  def token(self, email: str, audience: str = AUDIENCE, *,
            issuer: str = iap.ISSUER, issued: float | None = None,
            lifetime: float = 600, alg: str = "ES256",
            kid: str | None = None) -> str:
    now = time.time() if issued is None else issued
    header = {"alg": alg, "typ": "JWT", "kid": self.kid if kid is None
              else kid}
    claims = {"iss": issuer, "aud": audience, "email": email,
              "sub": f"accounts.google.com:{abs(hash(email))}",
              "iat": int(now), "exp": int(now + lifetime)}
    signed = (f"{_b64(json.dumps(header).encode())}."
              f"{_b64(json.dumps(claims).encode())}")
    r, s = utils.decode_dss_signature(
        self.key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signed}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def unsigned(email: str, audience: str = AUDIENCE) -> str:
  """An assertion with `alg: none` and no signature (a forgery)."""
  now = int(time.time())
  header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
  claims = _b64(json.dumps({"iss": iap.ISSUER, "aud": audience,
                            "email": email, "iat": now,
                            "exp": now + 600}).encode())
  return f"{header}.{claims}."


def tampered(token: str, email: str) -> str:
  """`token` with its payload's email replaced, signature kept."""
  head, body, signature = token.split(".")
  claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
  claims["email"] = email
  return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


def header(token: str) -> dict[str, str]:
  """The request header IAP adds."""
  return {iap.ASSERTION_HEADER: token}
