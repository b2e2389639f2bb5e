"""Meta's webhook checks: the subscription handshake and `X-Hub-Signature-256`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from channels.base import PayloadError, SignatureError

PLATFORM = "meta"
SIGNATURE_HEADER = "x-hub-signature-256"
MAX_CHALLENGE = 1_000


class HandshakeRefused(SignatureError):
    """The verify token is wrong or unset: Meta's handshake is answered 403."""


def signature(app_secret: str, raw: bytes) -> str:
    """The header value Meta sends for `raw`: `sha256=` and the hex HMAC with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(raw: bytes, given: Sequence[str], app_secret: str) -> None:
    """Check the `X-Hub-Signature-256` values of a request against its raw body.

    `given` holds every value of the header: exactly one is accepted. Fails closed without an
    app secret. Raises `SignatureError`.
    """
    if not app_secret:
        raise SignatureError("no META_APP_SECRET configured", platform=PLATFORM)
    if not given:
        raise SignatureError("missing X-Hub-Signature-256", platform=PLATFORM)
    if len(given) != 1:
        raise SignatureError("more than one X-Hub-Signature-256", platform=PLATFORM)
    expected = signature(app_secret, raw)
    if not hmac.compare_digest(given[0].strip().encode(), expected.encode()):
        raise SignatureError("invalid X-Hub-Signature-256", platform=PLATFORM)


def handshake(query: Mapping[str, str], verify_token: str) -> str:
    """The challenge to echo for `GET /meta/webhook?hub.mode=subscribe&...`.

    `HandshakeRefused` (403) when no verify token is configured or the one given differs;
    `PayloadError` (400) when the request is not a subscription handshake at all.
    """
    if not verify_token:
        raise HandshakeRefused("no META_VERIFY_TOKEN configured", platform=PLATFORM)
    mode = query.get("hub.mode", "")
    token = query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    if mode != "subscribe":
        raise PayloadError("hub.mode must be subscribe", platform=PLATFORM)
    if not challenge or len(challenge) > MAX_CHALLENGE:
        raise PayloadError("hub.challenge is required", platform=PLATFORM)
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        raise HandshakeRefused("wrong hub.verify_token", platform=PLATFORM)
    return challenge
