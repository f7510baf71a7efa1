"""IAP's signed assertion decides who a finding's author is: only a token
signed by a key of the configured source, for this audience, current and
from IAP, names anyone; each other token is refused in one line."""

from __future__ import annotations

import json
import time

import pytest

import iap_tokens
from lit_gemma.web import iap


@pytest.fixture(scope="module")
def signer():
  return iap_tokens.Signer()


@pytest.fixture
def verifier(signer, tmp_path):
  return iap.Verifier(iap_tokens.AUDIENCE,
                      str(signer.write_keys(tmp_path / "keys.json")))


def _environ(token: str) -> dict:
  return {"HTTP_X_GOOG_IAP_JWT_ASSERTION": token}


def test_a_signed_assertion_names_its_user(signer, verifier):
  token = signer.token("alice@example.com")
  assert verifier.email(_environ(token)) == "alice@example.com"


def _refusals(signer):
  other = iap_tokens.Signer(kid=signer.kid)  # Same key id, another key.
  good = signer.token("alice@example.com")
  return [
      ("", r"the request has no x-goog-iap-jwt-assertion header: .*"),
      ("not a token", r"the IAP assertion is not a JSON Web Token"),
      (iap_tokens.unsigned("mallory@example.com"),
       r"the IAP assertion is signed with 'none', not ES256"),
      (other.token("mallory@example.com"),
       r"the IAP assertion's signature does not match its key"),
      (iap_tokens.tampered(good, "mallory@example.com"),
       r"the IAP assertion's signature does not match its key"),
      (signer.token("alice@example.com", kid="unknown"),
       r"the IAP assertion's key 'unknown' is not one of the keys of .*"),
      (signer.token("alice@example.com", audience="/projects/9/other"),
       r"the IAP assertion is for another audience than this server's "
       r"\(--iap_audience\)"),
      (signer.token("alice@example.com", issuer="https://evil.example"),
       r"the IAP assertion's issuer is not https://cloud.google.com/iap"),
      (signer.token("alice@example.com", issued=time.time() - 3600),
       r"the IAP assertion has expired"),
      (signer.token("alice@example.com", issued=time.time() + 3600),
       r"the IAP assertion is issued in the future"),
      (signer.token("alice@example.com", alg="HS256"),
       r"the IAP assertion is signed with 'HS256', not ES256"),
      ("bm90IGpzb24.e30.c2ln", r"the IAP assertion's header is not JSON"),
  ]


def test_every_other_assertion_is_refused_in_one_line(signer, verifier):
  for token, message in _refusals(signer):
    with pytest.raises(iap.NotVerified, match=f"^{message}$"):
      verifier.email(_environ(token))
  assert iap.NotVerified.http_status == 401


def test_identity_headers_alone_are_never_trusted(verifier):
  environ = {"HTTP_X_GOOG_AUTHENTICATED_USER_EMAIL":
             "accounts.google.com:alice@example.com",
             "HTTP_X_GOOG_AUTHENTICATED_USER_ID": "accounts.google.com:1"}
  with pytest.raises(iap.NotVerified, match="has no x-goog-iap-jwt"):
    verifier.email(environ)


def test_a_changed_key_file_is_read_again(signer, tmp_path):
  keys = signer.write_keys(tmp_path / "keys.json")
  verifier = iap.Verifier(iap_tokens.AUDIENCE, str(keys))
  rotated = iap_tokens.Signer(kid="test-key-2")
  token = rotated.token("bob@example.com")
  with pytest.raises(iap.NotVerified, match="key 'test-key-2' is not one"):
    verifier.email(_environ(token))
  both = {"keys": signer.jwks()["keys"] + rotated.jwks()["keys"]}
  keys.write_text(json.dumps(both) + " ")  # Another size: seen as changed.
  assert verifier.email(_environ(token)) == "bob@example.com"


def test_unreadable_keys_are_the_servers_problem(tmp_path):
  verifier = iap.Verifier(iap_tokens.AUDIENCE, str(tmp_path / "missing"))
  token = iap_tokens.Signer().token("alice@example.com")
  with pytest.raises(iap.KeysUnavailable, match="cannot read IAP's keys"):
    verifier.email(_environ(token))
  assert iap.KeysUnavailable.http_status == 503
