"""`X-Twilio-Signature`: HMAC-SHA1 over the exact URL Twilio called and the POSTed form."""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, urlparse

from twilio.request_validator import RequestValidator, add_port, remove_port

from channels.base import SignatureError

SIGNATURE_HEADER = "x-twilio-signature"


class Form:
    """URL-encoded parameters in order, repeated names kept (Twilio signs every value)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    @classmethod
    def parse(cls, raw: bytes) -> Form:
        """Read an urlencoded body."""
        text = raw.decode("utf-8", errors="replace")
        return cls(parse_qsl(text, keep_blank_values=True))

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self.pairs))

    def getlist(self, name: str) -> list[str]:
        """Every value sent under `name`, in order."""
        return [v for k, v in self.pairs if k == name]

    def get(self, name: str, default: str = "") -> str:
        """The last value sent under `name`, or `default`."""
        values = self.getlist(name)
        return values[-1] if values else default


def signed_url(request_url: str, public_url: str | None) -> str:
    """The URL Twilio called: behind a proxy, `PUBLIC_URL` plus our path and query."""
    if not public_url:
        return request_url
    parts = urlparse(request_url)
    return public_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def verify(raw: bytes, headers: Mapping[str, str], url: str, auth_token: str | None) -> Form:
    """Check `X-Twilio-Signature` over the exact URL and the POSTed parameters.

    Returns the parameters. The URL is tried with and without its default port, as Twilio's
    own validator does; the comparison is constant-time.

    Raises:
        SignatureError: no auth token configured, header missing or repeated, or mismatch.
    """
    # Only a label for the rejection count: nothing unverified is trusted beyond that.
    platform = "whatsapp" if b"From=whatsapp%3A" in raw else "sms"
    if not auth_token:
        raise SignatureError("TWILIO_AUTH_TOKEN is not configured", platform=platform)
    getlist = getattr(headers, "getlist", None)
    found = list(getlist(SIGNATURE_HEADER)) if getlist else [headers.get(SIGNATURE_HEADER)]
    values: list[str] = [str(v) for v in found if v is not None]
    if len(values) != 1 or not values[0]:
        raise SignatureError("missing or repeated X-Twilio-Signature", platform=platform)
    given = values[0].strip().encode()
    form = Form.parse(raw)
    validator = RequestValidator(auth_token)
    parsed = urlparse(url)
    for candidate in dict.fromkeys((remove_port(parsed), add_port(parsed))):
        expected = validator.compute_signature(candidate, form).encode()
        if hmac.compare_digest(expected, given):
            return form
    raise SignatureError("X-Twilio-Signature does not match", platform=platform)
