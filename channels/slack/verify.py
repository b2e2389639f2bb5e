"""Slack's request signature, checked once, on the raw bytes, before anything is parsed."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.signature import Clock, SignatureVerifier

from channels.base import SignatureError
from channels.slack.ids import PLATFORM

REPLAY_WINDOW = 300
"""Seconds a signed request stays valid (slack-sdk's window, Slack's own advice)."""


class _At(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify(raw: bytes, headers: Mapping[str, str], *, secret: str, now: float) -> None:
    """Check Slack's request signature over the raw body; `SignatureError` when it fails.

    `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret (slack-sdk's
    `SignatureVerifier`, which compares in constant time), and the timestamp within five
    minutes of `now`. Without a secret every request is refused; a header sent twice is too,
    since nobody can say which of the two was signed.
    """
    if not secret.strip():
        raise SignatureError("the Slack signing secret is not configured", platform=PLATFORM)
    stamps = _all(headers, "x-slack-request-timestamp")
    signatures = _all(headers, "x-slack-signature")
    if len(stamps) != 1 or len(signatures) != 1:
        raise SignatureError("missing or repeated signature headers", platform=PLATFORM)
    stamp, signature = stamps[0], signatures[0]
    # int() would also take "+1", " 1" or "1_000"; Slack sends plain digits only.
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("malformed request timestamp", platform=PLATFORM)
    if not signature.isascii():
        # compare_digest refuses non-ASCII text rather than answering False.
        raise SignatureError("malformed signature", platform=PLATFORM)
    if abs(now - int(stamp)) > REPLAY_WINDOW:
        raise SignatureError("request timestamp outside the replay window", platform=PLATFORM)
    try:
        # Slack sends UTF-8 only; the verifier decodes the body before hashing it.
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("the body is not UTF-8", platform=PLATFORM) from None
    verifier = SignatureVerifier(secret, clock=_At(now))
    if not verifier.is_valid(body=body, timestamp=stamp, signature=signature):
        raise SignatureError("signature mismatch", platform=PLATFORM)


def _all(headers: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(name)]
    value = headers.get(name)
    return [value] if value is not None else []
