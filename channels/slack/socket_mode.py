"""Socket Mode with the webhook's rules, on slack-sdk's client (which reconnects by itself).

Imported only when an app-level token is set.
"""

from __future__ import annotations

import structlog
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from channels.base import PayloadError
from channels.slack.envelope import check

log = structlog.get_logger(__name__)


class SocketHandler(AsyncSocketModeHandler):
    """bolt's handler, with the envelope checked before bolt reads it.

    A malformed envelope or one of a kind nobody handles is acknowledged (delivering it
    again would fail the same way); one that could not be stored is not, so Slack sends it
    again.
    """

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        """Check, dispatch through bolt, acknowledge."""
        try:
            check(req.payload)
            await super().handle(client, req)
        except PayloadError as e:
            log.info("slack.socket_malformed", reason=str(e))
        except BoltUnhandledRequestError:
            log.info("slack.ignored", kind=str(req.type))
        else:
            return
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
