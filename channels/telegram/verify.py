"""The webhook's proof of origin: the secret given to `setWebhook`, sent back as a header."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

from channels.base import SignatureError
from channels.telegram.constants import PLATFORM

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")


def verify(headers: Mapping[str, str], secret: str | None) -> None:
    """Check `X-Telegram-Bot-Api-Secret-Token` against the secret given to `setWebhook`.

    Raises:
        SignatureError: the header is missing, repeated or wrong, or no secret is configured.
    """
    if not secret:
        raise SignatureError("TELEGRAM_SECRET_TOKEN is not configured", platform=PLATFORM)
    getlist = getattr(headers, "getlist", None)
    found = list(getlist(SECRET_HEADER)) if getlist else [headers.get(SECRET_HEADER)]
    values: list[str] = [str(v) for v in found if v is not None]
    if len(values) != 1:
        raise SignatureError("missing or repeated secret token header", platform=PLATFORM)
    if not hmac.compare_digest(values[0].encode(), secret.encode()):
        raise SignatureError("wrong secret token", platform=PLATFORM)
