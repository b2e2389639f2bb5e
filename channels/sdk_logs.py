"""Keeping tokens and full phone numbers out of what the platform SDKs log.

The SDKs log for themselves, before any formatter of ours sees a record: PTB puts the bot
token in its API URL (logged at DEBUG) and httpx logs every request URL at INFO; PTB logs
each call's parameters at DEBUG (texts, which may quote a phone number); Twilio's client
logs request URLs and query parameters. A filter on each of those loggers rewrites the
record where it is made, so every handler that takes it (the production formatter, pytest's
capture, a debugger's) sees it clean, whatever the log configuration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from channels.phones import mask_in_text

REDACTED = "[redacted]"

# Filters on a logger do not apply to its children's records: each logger is named.
HTTPX_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2")
TELEGRAM_LOGGERS = (
    *HTTPX_LOGGERS,
    "telegram",
    "telegram.Bot",
    "telegram.BaseRequest",
    "telegram.HTTPXRequest",
)
TWILIO_LOGGERS = ("twilio.http_client", "twilio.async_http_client", "aiohttp.client")


class SecretsFilter(logging.Filter):
    """Replaces known secrets and masks phone numbers in every record it sees."""

    def __init__(self) -> None:
        super().__init__("switchboard.secrets")
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        """Hide these values too (empty and very short values are ignored)."""
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if len(s) >= 8}
            # Longest first, so a secret containing another is replaced whole.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def clean(self, text: str) -> str:
        """The text without the secrets and with phone numbers masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return mask_in_text(text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; leave it be
            return True
        cleaned = self.clean(text)
        if cleaned != text:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True


_FILTER = SecretsFilter()


def protect(loggers: Iterable[str], *secrets: str) -> None:
    """Filter these SDK loggers (once each) and hide `secrets` in what they log."""
    _FILTER.add(*secrets)
    for name in loggers:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
