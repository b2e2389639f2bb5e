"""A fake OpenID Connect provider over real HTTP: discovery, keys, and the token endpoint.

The test plays the browser: it reads the authorisation request the app redirected to (state,
nonce, PKCE challenge), decides what the ID token will say with `sign_in_as`, and brings
the code back to the app's callback. The token endpoint checks the code, the client's
credentials and the PKCE verifier as a real provider would.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.fakes.server import Call, Canned, FakeApi

CLIENT_ID = "switchboard-test"
CLIENT_SECRET = "test-oidc-client-secret"  # noqa: S105


class FakeOidcProvider(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.signing_key = self.key  # a test swaps in another to forge a token
        self.code = ""
        self.claims: dict[str, Any] = {}
        self.challenge = ""

    def sign_in_as(self, code: str, challenge: str, **claims: Any) -> None:
        """The next exchange of `code` (with the verifier of `challenge`) gets these claims."""
        now = int(time.time())
        self.code, self.challenge = code, challenge
        self.claims = {
            "iss": self.base_url,
            "sub": "user-1",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            **claims,
        }

    def respond(self, call: Call) -> Canned | None:
        if call.path == "/.well-known/openid-configuration":
            return Canned(
                json={
                    "issuer": self.base_url,
                    "authorization_endpoint": f"{self.base_url}/authorize",
                    "token_endpoint": f"{self.base_url}/token",
                    "jwks_uri": f"{self.base_url}/jwks",
                }
            )
        if call.path == "/jwks":
            return Canned(json=KeySet([self.key]).as_dict(private=False))
        if call.path == "/token":
            return self._token(call)
        return None

    def _token(self, call: Call) -> Canned:
        form = call.form()
        auth = call.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != expected:
            return Canned(status=401, json={"error": "invalid_client"})
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if form.get("code") != self.code or challenge != self.challenge:
            return Canned(status=400, json={"error": "invalid_grant"})
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, self.claims, self.signing_key)
        return Canned(
            json={
                "access_token": "at",
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )
