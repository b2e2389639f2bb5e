"""X's webhook checks: the CRC challenge answer and `x-twitter-webhooks-signature`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from channels.base import SignatureError
from channels.x.parse import PLATFORM

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
MAX_CRC_TOKEN = 1_000


def _hmac(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The answer to X's challenge-response check (`GET /x/webhook?crc_token=...`)."""
    if not consumer_secret:
        raise SignatureError("no X consumer secret configured", platform=PLATFORM)
    return {"response_token": _hmac(consumer_secret, crc_token.encode())}


def verify(raw: bytes, headers: Mapping[str, str], consumer_secret: str) -> None:
    """Check `x-twitter-webhooks-signature` against the raw body; `SignatureError` if wrong.

    Fails closed: without a consumer secret no request is accepted.
    """
    if not consumer_secret:
        raise SignatureError("no X consumer secret configured", platform=PLATFORM)
    given = headers.get(SIGNATURE_HEADER)
    if not given:
        raise SignatureError("missing x-twitter-webhooks-signature", platform=PLATFORM)
    expected = _hmac(consumer_secret, raw)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureError("invalid x-twitter-webhooks-signature", platform=PLATFORM)
