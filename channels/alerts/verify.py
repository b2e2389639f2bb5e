"""Who posted an alert: an integration's bearer token, or an HMAC of the body with its secret.

The channel never sees the store: the application hands it two lookups. Both fail closed:
no lookup, no credentials or a wrong one is a `SignatureError` (HTTP 401).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping

from channels.base import SignatureError

TokenLookup = Callable[[str], Awaitable[str | None]]
"""A bearer token → the name of the integration holding it, or None."""

SecretsLookup = Callable[[], Awaitable[list[tuple[str, str]]]]
"""Every integration that signs its bodies: `(name, secret)`."""

SIGNATURE_HEADER = "x-switchboard-signature"
MAX_TOKEN = 200


def signature(secret: str, body: bytes) -> str:
    """The `X-Switchboard-Signature` value for a body: `sha256=` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def integration_for(
    headers: Mapping[str, str],
    body: bytes,
    *,
    tokens: TokenLookup | None,
    secrets: SecretsLookup | None,
) -> str:
    """The integration that sent this request; `SignatureError` when none did."""
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN or tokens is None:
            raise SignatureError("invalid bearer token", platform="alerts")
        name = await tokens(token)
        if name is None:
            raise SignatureError("invalid bearer token", platform="alerts")
        return name
    given = headers.get(SIGNATURE_HEADER)
    if given is not None and secrets is not None and given.startswith("sha256="):
        found = None
        for name, secret in await secrets():
            # Every secret is tried, so the time taken does not tell which one came close.
            if hmac.compare_digest(signature(secret, body).encode(), given.encode()):
                found = name
        if found is not None:
            return found
    raise SignatureError("missing or invalid credentials", platform="alerts")
