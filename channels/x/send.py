"""The tweepy client: its base URL, its logs, and its errors as delivery instructions."""

from __future__ import annotations

import contextlib
import logging
import time
from urllib.parse import urlsplit

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

from channels.base import ConfigurationError, DeliveryError
from channels.x.parse import PLATFORM

DEFAULT_API_URL = "https://api.twitter.com"

TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)

# oauthlib logs the collected OAuth parameters and the signature base string (both hold the
# access token and consumer key) and tweepy logs request headers (the bearer token) at DEBUG.
_LEAKY_LOGGERS = (
    "oauthlib",
    "oauthlib.oauth1",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "oauthlib.oauth1.rfc5849.utils",
    "oauthlib.oauth1.rfc5849.parameters",
    "requests_oauthlib",
    "requests_oauthlib.oauth1_auth",
    "tweepy",
    "tweepy.client",
    "tweepy.asynchronous.client",
)


class _NoDebug(logging.Filter):
    """Drops records below INFO, whatever level the logger or the root is set to."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_NO_DEBUG = _NoDebug("switchboard.x")


def quiet_client_logs() -> None:
    """Keep the X credentials out of logs at every level (idempotent).

    A logger's filter only sees records created on that logger, not its children's, so each
    module logger that can leak gets the filter.
    """
    for name in _LEAKY_LOGGERS:
        logger = logging.getLogger(name)
        if _NO_DEBUG not in logger.filters:
            logger.addFilter(_NO_DEBUG)


def base_url_middleware(api_url: str) -> aiohttp.ClientMiddlewareType:
    """An aiohttp middleware sending tweepy's `https://api.twitter.com` requests to `api_url`.

    tweepy hard-codes the host; the path, query and OAuth signature stay as tweepy made them,
    so a proxy that forwards to X keeps the signature valid.
    """
    target = urlsplit(api_url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise ConfigurationError(f"X_API_URL must be an http(s) URL, not {api_url!r}")
    scheme, host, port = target.scheme, target.hostname, target.port
    source = urlsplit(DEFAULT_API_URL).hostname

    async def rebase(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if req.url.host == source:
            req.url = req.url.with_scheme(scheme).with_host(host).with_port(port)
            req.headers["Host"] = req.url.host_port_subcomponent or host
        return await handler(req)

    return rebase


def open_client(
    keys: tuple[str | None, str | None, str | None, str | None, str | None],
    *,
    api_url: str,
    timeout: float,
) -> tuple[aiohttp.ClientSession, AsyncClient]:
    """One aiohttp session and the tweepy client sharing it (call inside the running loop).

    `keys` are the bearer token, consumer key and secret, access token and secret.
    """
    quiet_client_logs()
    rebased = api_url.rstrip("/") != DEFAULT_API_URL
    session = aiohttp.ClientSession(
        middlewares=(base_url_middleware(api_url),) if rebased else (),
        timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0)),
    )
    bearer, ck, cs, at, ats = keys
    client = AsyncClient(
        bearer_token=bearer,
        consumer_key=ck,
        consumer_secret=cs,
        access_token=at,
        access_token_secret=ats,
        return_type=dict,
        wait_on_rate_limit=False,
    )
    client.session = session
    return session, client


def reset_time(error: tweepy.TooManyRequests) -> int | None:
    """When X's rate-limit window ends (Unix seconds), from tweepy or the response header."""
    if error.reset_time is not None:
        return int(error.reset_time)
    with contextlib.suppress(TypeError, ValueError, AttributeError, KeyError):
        return int(error.response.headers["x-rate-limit-reset"])
    return None


def _reset_after(error: tweepy.TooManyRequests) -> float:
    reset = reset_time(error)
    if reset is None:
        return 60.0
    return max(reset - time.time(), 0.0) + 1.0


def not_sent(error: BaseException) -> bool:
    """True when the request never left (refused connection, connect timeout)."""
    return isinstance(error, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError)


def is_duplicate(error: tweepy.HTTPException) -> bool:
    """True when X refused a post as a duplicate of one already made."""
    said = " ".join(str(m) for m in (*error.api_messages, str(error))).lower()
    return "duplicate" in said or 187 in error.api_codes


def refused(error: tweepy.HTTPException, what: str) -> DeliveryError:
    """A platform answer that is not a success, as the dispatcher's retry instruction."""
    status = getattr(error.response, "status", None)
    detail = f"{what} refused with HTTP {status}"
    if isinstance(error, tweepy.TooManyRequests):
        return DeliveryError(detail, platform=PLATFORM, retry_after=_reset_after(error))
    if isinstance(error, tweepy.Forbidden | tweepy.BadRequest | tweepy.NotFound):
        # DMs closed, blocked, duplicate content, no such user: resending cannot help.
        return DeliveryError(detail, platform=PLATFORM, permanent=True)
    return DeliveryError(detail, platform=PLATFORM)


def failed(error: BaseException, what: str) -> DeliveryError:
    """A transport failure: retry if the request never left, else it may have arrived."""
    if not_sent(error):
        return DeliveryError(f"{what} not sent: {type(error).__name__}", platform=PLATFORM)
    return DeliveryError(
        f"{what} may have been sent: {type(error).__name__}", platform=PLATFORM, ambiguous=True
    )
