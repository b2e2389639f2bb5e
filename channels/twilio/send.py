"""The REST client, and what its errors mean for the outbox."""

from __future__ import annotations

import base64
import contextvars
import logging
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from channels.base import DeliveryError
from channels.phones import mask_in_text

RATE_LIMIT_WAIT = 5.0
# Errors the REST API answers with (https://www.twilio.com/docs/api/errors).
TOO_MANY = 20429
UNSUBSCRIBED = 21610
OUTSIDE_WINDOW = 63016

_log = logging.getLogger("twilio.http_client")

_last_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "twilio_last_headers", default=None
)


class TwilioHttp(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's aiohttp client with four repairs.

    Its own timeout setting is never applied (requests could hang forever); it
    authenticates through aiohttp's deprecated `BasicAuth`; `TwilioRestException` drops the
    response headers, among them a 429's `Retry-After`, kept here per task; and it logs
    request URLs and query parameters (account, phone numbers), replaced here by one line
    naming the resource.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        """Send one request to Twilio's REST API."""
        headers = dict(headers or {})
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        response = await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        _last_headers.set({str(k).lower(): str(v) for k, v in (response.headers or {}).items()})
        return response

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """One DEBUG line: the method and the resource, without account, numbers or text."""
        resource = urlparse(str(kwargs.get("url", ""))).path.rsplit("/", 1)[-1]
        _log.debug("twilio.request method=%s resource=%s", kwargs.get("method"), resource)

    def log_response(self, status_code: int, response: Any) -> None:
        """One DEBUG line: the status only."""
        _log.debug("twilio.response status=%s", status_code)


def retry_after(headers: Mapping[str, str] | None) -> float:
    """The wait a 429 asked for (`Retry-After`), else a default."""
    value = (headers or {}).get("retry-after", "")
    try:
        wait = float(value) if value else RATE_LIMIT_WAIT
        return max(wait, 0.0) if math.isfinite(wait) else RATE_LIMIT_WAIT
    except ValueError:
        return RATE_LIMIT_WAIT


def delivery_error(e: TwilioRestException, platform: str) -> DeliveryError:
    """How the outbox should treat a REST API error."""
    code = e.code or 0
    # Twilio's messages quote the number ("The 'To' number +1415... is not valid").
    detail = mask_in_text(f"Twilio {e.status} error {code}: {e.msg}")
    if e.status == 429 or code == TOO_MANY:
        return DeliveryError(
            detail, platform=platform, retry_after=retry_after(_last_headers.get())
        )
    if e.status >= 500:
        return DeliveryError(detail, platform=platform)
    if e.status in (401, 403):
        # Credentials: an operator can fix them, so keep the reply for a while.
        return DeliveryError(detail, platform=platform)
    # 21610 unsubscribed, 21211 invalid number, 21408 region not enabled, 63016 outside the
    # WhatsApp window...: the same request will fail the same way.
    return DeliveryError(detail, platform=platform, permanent=True)


def never_sent(e: BaseException) -> bool:
    """Whether the request never left (no connection was made), so resending is safe."""
    # aiohttp's ClientConnectorError (no connection made) is an OSError carrying `os_error`.
    return isinstance(e, OSError) and hasattr(e, "os_error")


async def create_message(client: Client, params: dict[str, Any], platform: str) -> Any:
    """`Messages.create`: the message Twilio made.

    Raises:
        TwilioRestException: the API refused it (the caller knows what each code means).
        DeliveryError: the request failed on the way; `ambiguous` when it may have arrived.
    """
    try:
        return await client.messages.create_async(**params)
    except TwilioRestException:
        raise
    except TimeoutError as e:
        raise DeliveryError(
            "timed out after sending: it may have been delivered",
            platform=platform,
            ambiguous=True,
        ) from e
    except Exception as e:
        if never_sent(e):
            raise DeliveryError(
                f"cannot reach Twilio: {type(e).__name__}", platform=platform
            ) from e
        raise DeliveryError(
            f"connection failed after sending ({type(e).__name__})",
            platform=platform,
            ambiguous=True,
        ) from e
