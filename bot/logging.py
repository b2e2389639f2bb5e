"""Structured logs with secrets and phone numbers scrubbed, for our code and every library."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

# Re-exported: the CLI masks the phone identities it lists with it.
from channels.conversation import mask_phone as mask_phone
from channels.phones import mask_in_text

log = structlog.get_logger(__name__)

_SECRET_KEYS = re.compile(
    r"(^|_)(token|secret|password|passwd|authorization|signature|api_?key|cookie|link_code)s?$",
    re.IGNORECASE,
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Slack tokens (xoxb-, xoxp-, xapp-, ...).
    (re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{8,}"), "[slack-token]"),
    # A Telegram bot token, also inside request URLs (/bot<token>/) and InvalidToken messages.
    (re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}"), "[telegram-token]"),
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer [redacted]"),
    (re.compile(r"\bsb_[A-Za-z0-9_-]{16,}"), "[api-token]"),
    (re.compile(r"\bAC[0-9a-f]{32}\b"), "[twilio-account]"),
    # Meta access tokens (page, user and app tokens all start with EAA).
    (re.compile(r"\bEAA[A-Za-z0-9]{20,}"), "[meta-token]"),
    (re.compile(r"(?i)(signature|secret|token|password)=([^&\s]+)"), r"\1=[redacted]"),
    # Web sign-in links (uvicorn's access log has the path) and the OIDC callback's code.
    (re.compile(r"/signin/(?!oidc\b)[A-Za-z0-9_-]{20,}"), "/signin/[redacted]"),
    (re.compile(r"(?i)(?<![\w])(code|state)=([^&\s]+)"), r"\1=[redacted]"),
    # OAuth 1.0a header parameters (tweepy logs its request headers at DEBUG).
    (re.compile(r'(?i)(oauth_[a-z_]+)="?[^",&\s]+"?'), r"\1=[redacted]"),
    # Identity link codes, in the messages that carry them and in what people type back.
    (
        re.compile(
            r"\b((?i:link|code is|code))(:?\s+)([A-Z0-9]{4}-?[A-Z0-9]{4}(?:[A-Z0-9]{2})?|\d{6})\b"
        ),
        r"\1\2[link-code]",
    ),
]


def scrub(text: str) -> str:
    """Remove tokens and mask phone numbers in free text (country code and last four kept)."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return mask_in_text(text)


def _scrub_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        if _SECRET_KEYS.search(key):
            return "[redacted]"
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(key, v) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """A structlog processor: no secret, token or full phone number leaves the process."""
    for key in list(event_dict):
        event_dict[key] = _scrub_value(key, event_dict[key])
    return event_dict


def configure(level: str = "INFO", fmt: str = "auto") -> None:
    """Configure structlog and route stdlib loggers (uvicorn, SDKs) through the same chain."""
    json_output = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: Iterable[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=list(shared),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
    for noisy in (
        "httpx",
        "httpcore",
        "aiosqlite",
        "asyncio",
        "urllib3",
        "twilio.http_client",
        "alembic",
        "tweepy",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The SDKs log every request's parameters at DEBUG: whole messages, link codes included.
    for chatty in ("slack_sdk", "telegram", "twilio", "aiohttp"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
