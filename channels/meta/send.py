"""The Graph API Send API over httpx, and its answers as delivery instructions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.base import DeliveryError
from channels.meta.verify import PLATFORM

if TYPE_CHECKING:
    # Loaded with the client (`open_client`): the channel is on, unconfigured, in every
    # process, and only one with a page token sends.
    import httpx

DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
RATE_LIMIT_WAIT = 60.0

# Graph API error codes: throttling (4 app, 17 user, 32 page, 613 call rate), and the
# Messenger Platform's "outside of allowed window" (code 10, subcode 2018278).
_THROTTLED = frozenset({4, 17, 32, 613})
_WINDOW_SUBCODE = 2018278
# The person cannot be reached (551), or no such user for this page (100/2018001).
_UNREACHABLE = frozenset({551})
_NO_USER_SUBCODE = 2018001


class WindowClosed(DeliveryError):
    """Meta refused the reply because the person's messaging window is closed."""


def open_client(api_url: str, page_token: str, *, timeout: float) -> httpx.AsyncClient:
    """An httpx client for the Graph API, with the page token in the Authorization header.

    The token never goes in the URL, so neither httpx's request log nor an error message
    can show it.
    """
    import httpx

    return httpx.AsyncClient(
        base_url=api_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {page_token}"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
    )


def _error(response: httpx.Response) -> tuple[int | None, int | None]:
    try:
        body = response.json()
    except ValueError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    code, sub = error.get("code"), error.get("error_subcode")
    return (code if isinstance(code, int) else None, sub if isinstance(sub, int) else None)


def refused(response: httpx.Response) -> DeliveryError:
    """A Send API answer that is not a success, as the dispatcher's instruction."""
    status = response.status_code
    code, sub = _error(response)
    detail = f"send refused with HTTP {status} (code {code}, subcode {sub})"
    if code == 10 and sub == _WINDOW_SUBCODE:
        return WindowClosed(detail, platform=PLATFORM)
    if status == 429 or code in _THROTTLED:
        return DeliveryError(detail, platform=PLATFORM, retry_after=RATE_LIMIT_WAIT)
    if status >= 500 or code in (1, 2):
        return DeliveryError(detail, platform=PLATFORM)
    if code in _UNREACHABLE or (code == 100 and sub == _NO_USER_SUBCODE):
        return DeliveryError(detail, platform=PLATFORM, permanent=True)
    if code == 190:
        # An expired or revoked page token: replies wait for a new one, with back-off.
        return DeliveryError(detail, platform=PLATFORM)
    return DeliveryError(detail, platform=PLATFORM, permanent=True)


def failed(error: httpx.TransportError) -> DeliveryError:
    """A transport failure: retried if the request never left, else it may have arrived."""
    import httpx

    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return DeliveryError(f"send not sent: {type(error).__name__}", platform=PLATFORM)
    return DeliveryError(
        f"send may have been sent: {type(error).__name__}", platform=PLATFORM, ambiguous=True
    )


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
    import httpx

    try:
        response = await client.post(path, json=body)
    except httpx.TransportError as e:
        raise failed(e) from e
    if response.status_code != 200:
        raise refused(response)
    try:
        return response.json()
    except ValueError:
        return None


async def send_message(client: httpx.AsyncClient, body: dict[str, Any]) -> str | None:
    """`POST me/messages`; the message id Meta gave, or `DeliveryError`.

    The same call answers a public comment privately when `recipient` holds `comment_id`.
    """
    answer = await _post(client, "me/messages", body)
    mid = answer.get("message_id") if isinstance(answer, dict) else None
    return str(mid) if mid else None


# Where a public answer to a comment goes: Facebook comments on the comment, Instagram
# replies to it.
_PUBLIC_EDGE = {"messenger": "comments", "instagram": "replies"}


async def reply_in_public(
    client: httpx.AsyncClient, channel: str, comment_id: str, text: str
) -> str | None:
    """Answer a comment in public (`POST {comment-id}/comments` or `/replies`); the new id."""
    answer = await _post(client, f"{comment_id}/{_PUBLIC_EDGE[channel]}", {"message": text})
    new = answer.get("id") if isinstance(answer, dict) else None
    return str(new) if new else None
