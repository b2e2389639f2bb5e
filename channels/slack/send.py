"""Replies to Slack through the Web API, and what a refusal means for the outbox.

Posts in threads, card updates, the App Home and ephemeral answers; a refusal becomes a
`DeliveryError` that says whether and when to retry.

A post carries its delivery key in message metadata, so after an attempt whose outcome is
unknown (a timeout, a 5xx) the conversation's recent history says whether it arrived, and
the retry does not post twice. slack-sdk's own retries stay off: the outbox dispatcher owns
retries, waits and the shared rate limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import Delivery, DeliveryError
from channels.conversation import Address, Reply, TicketCard
from channels.slack.ids import METADATA_EVENT, PLATFORM
from channels.slack.render import card_state, render, render_home

log = structlog.get_logger(__name__)

_PERMANENT = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "user_not_found",
        "restricted_action",
        "ekm_access_denied",
        "team_access_not_granted",
        "cannot_dm_bot",
    }
)
# Slack says these may have happened in part: the message can exist although we got an error.
_UNCERTAIN = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})
# The person cannot see an ephemeral message there (not a member, or the bot is not).
_NOT_THERE = frozenset({"user_not_in_channel", "not_in_channel", "channel_not_found"})
_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


def public_card(card: TicketCard) -> TicketCard:
    """A ticket as shown in a thread others read: reference, status and assignee only."""
    return TicketCard(
        ref=card.ref,
        title=card.kind,
        kind=card.kind,
        status=card.status,
        assignee=card.assignee,
        version=card.version,
    )


def is_shared(conversation: str) -> bool:
    """A channel others read (public `C…`, private `G…`), as opposed to a DM."""
    return conversation[:1] in ("C", "G")


class Sender:
    """Delivers replies with one Web API client; remembers just enough to never post twice."""

    def __init__(self, web: AsyncWebClient) -> None:
        self._web = web
        self._uncertain: OrderedDict[str, None] = OrderedDict()
        self._shown: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Post, update or publish one reply; `DeliveryError` says how to retry."""
        if reply.overview:
            return await self._publish_home(address, reply)
        if reply.ephemeral:
            return await self._private(address, replace(reply, edit_id=None))
        shared = is_shared(address.conversation)
        channel, thread = self._target(address, reply)
        if shared and thread and address.user and reply.card is not None:
            reply = replace(reply, card=public_card(reply.card))
        body = render(reply, now=datetime.now(UTC), editor=address.user or None, shared=shared)
        if reply.edit_id:
            return await self._update(channel, thread, reply, body)
        return await self._post(channel, thread, reply.delivery_key, body)

    async def find(self, address: Address, reply: Reply) -> Delivery | None:
        """The post carrying `reply.delivery_key` where `send` would have put it, or None.

        Updates, Home views and ephemeral answers leave nothing to find (the first two are
        safe to repeat): None. `DeliveryError` when the history cannot be read.
        """
        key = reply.delivery_key
        if not key or reply.overview or reply.ephemeral or reply.edit_id:
            return None
        channel, thread = self._target(address, reply)
        found = await self._find_posted(channel, thread, key)
        if found is None:
            return None
        self._uncertain.pop(key, None)
        return Delivery(external_id=found, detail="found after an interrupted send")

    @staticmethod
    def _target(address: Address, reply: Reply) -> tuple[str, str | None]:
        channel, thread = address.conversation, address.thread
        if is_shared(channel) and thread is None and address.user and reply.edit_id is None:
            # An answer to a click on a channel card is the clicker's business: their DM.
            channel = address.user
        return channel, thread

    async def _private(self, address: Address, reply: Reply) -> Delivery:
        """A reply for the addressed person's eyes only, where they are.

        In a channel it is ephemeral; in a DM an ordinary message. Either way it is no
        message a later card update should edit, so the delivery names no id.
        """
        if not address.user:
            raise DeliveryError(
                "an ephemeral reply needs a user", platform=PLATFORM, permanent=True
            )
        channel = address.conversation
        body = render(reply, now=datetime.now(UTC), shared=is_shared(channel))
        if is_shared(channel):
            where = await self._ephemeral(channel, address.thread, address.user, reply, body)
        else:
            posted = await self._post(channel, address.thread, reply.delivery_key, body)
            where = posted.external_id or channel
        return Delivery(detail=f"shown to {address.user} only at {where}")

    async def _ephemeral(
        self, channel: str, thread: str | None, user: str, reply: Reply, body: dict[str, Any]
    ) -> str:
        args: dict[str, Any] = {"channel": channel, "user": user, **body}
        if thread:
            args["thread_ts"] = thread
        try:
            sent = await self._web.chat_postEphemeral(**args)
        except SlackApiError as e:
            if _error(e) in _NOT_THERE:
                # The person cannot be shown it there; their DM is the other private place.
                posted = await self._post(user, None, reply.delivery_key, body)
                return posted.external_id or user
            if _status(e) >= 500 or _error(e) in _UNCERTAIN:
                raise DeliveryError(
                    f"chat.postEphemeral: {describe(e)}", platform=PLATFORM, ambiguous=True
                ) from e
            raise self._refused(e, "chat.postEphemeral") from e
        except aiohttp.ClientConnectorError as e:
            raise DeliveryError(describe(e), platform=PLATFORM) from e
        except (aiohttp.ClientError, TimeoutError) as e:
            # An ephemeral message leaves nothing in the history to look for, so it is not
            # sent again when it may have arrived.
            raise DeliveryError(describe(e), platform=PLATFORM, ambiguous=True) from e
        return f"{channel}:{sent.get('message_ts')}"

    async def _publish_home(self, address: Address, reply: Reply) -> Delivery:
        if not address.user:
            raise DeliveryError("an overview needs a user", platform=PLATFORM, permanent=True)
        view = render_home(reply, now=datetime.now(UTC))
        try:
            found = await self._web.views_publish(user_id=address.user, view=view)
        except SlackApiError as e:
            raise self._refused(e, "views.publish") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            # Publishing is idempotent: a repeat only draws the same Home again.
            raise DeliveryError(describe(e), platform=PLATFORM) from e
        return Delivery(external_id=str((found.get("view") or {}).get("id") or ""))

    async def _update(
        self, channel: str, thread: str | None, reply: Reply, body: dict[str, Any]
    ) -> Delivery:
        target, _, ts = (reply.edit_id or "").rpartition(":")
        if not ts:
            raise DeliveryError("nothing to update", platform=PLATFORM, permanent=True)
        target = target or channel
        key = (target, ts)
        state = card_state(reply)
        if state is not None and self._shown.get(key) == state:
            # Another reply already drew this very card state here (the approver's answer
            # and the approvals announcement both update one channel card).
            return Delivery(external_id=f"{target}:{ts}", detail="unchanged")
        if state is not None:
            self._remember_shown(key, state)
        try:
            await self._web.chat_update(channel=target, ts=ts, **body)
        except SlackApiError as e:
            self._shown.pop(key, None)
            if _error(e) in _GONE:
                log.info("slack.update_gone", error=_error(e))
                return await self._post(channel, thread, reply.delivery_key, body)
            raise self._refused(e, "chat.update") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            self._shown.pop(key, None)
            # Updating is idempotent, so a plain retry is safe.
            raise DeliveryError(describe(e), platform=PLATFORM) from e
        return Delivery(external_id=f"{target}:{ts}")

    def _remember_shown(self, key: tuple[str, str], state: tuple[str, ...]) -> None:
        self._shown[key] = state
        self._shown.move_to_end(key)
        while len(self._shown) > 2000:
            self._shown.popitem(last=False)

    async def _post(
        self, channel: str, thread: str | None, key: str | None, body: dict[str, Any]
    ) -> Delivery:
        if key and key in self._uncertain:
            earlier = await self._find_posted(channel, thread, key)
            if earlier is not None:
                self._uncertain.pop(key, None)
                return Delivery(external_id=earlier, detail="found after an uncertain attempt")
        args: dict[str, Any] = {
            "channel": channel,
            "unfurl_links": False,
            "unfurl_media": False,
            **body,
        }
        if thread:
            args["thread_ts"] = thread
        if key:
            args["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
        try:
            try:
                posted = await self._web.chat_postMessage(**args)
            except SlackApiError as e:
                if _error(e) != "not_in_channel" or not channel.startswith("C"):
                    raise
                # Announcement channels: join once (public channels only) and post again.
                await self._web.conversations_join(channel=channel)
                posted = await self._web.chat_postMessage(**args)
        except SlackApiError as e:
            if _status(e) >= 500 or _error(e) in _UNCERTAIN:
                return await self._settle(channel, thread, key, e)
            raise self._refused(e, "chat.postMessage") from e
        except aiohttp.ClientConnectorError as e:
            # No connection was made, so nothing was posted.
            raise DeliveryError(describe(e), platform=PLATFORM) from e
        except (aiohttp.ClientError, TimeoutError) as e:
            return await self._settle(channel, thread, key, e)
        if key:
            self._uncertain.pop(key, None)
        return Delivery(external_id=f"{posted.get('channel') or channel}:{posted.get('ts')}")

    async def _settle(
        self, channel: str, thread: str | None, key: str | None, error: BaseException
    ) -> Delivery:
        """After an attempt that may have posted: find it, or retry only if it did not."""
        log.warning("slack.post_uncertain", error=describe(error))
        if not key:
            raise DeliveryError(describe(error), platform=PLATFORM, ambiguous=True) from error
        earlier = await self._find_posted(channel, thread, key)
        if earlier is not None:
            return Delivery(external_id=earlier, detail="found after an uncertain attempt")
        self._uncertain[key] = None
        while len(self._uncertain) > 10_000:
            self._uncertain.popitem(last=False)
        # Not there (yet): the next attempt looks again before posting.
        raise DeliveryError(describe(error), platform=PLATFORM) from error

    async def _find_posted(self, channel: str, thread: str | None, key: str) -> str | None:
        """Our message carrying `key` in the conversation's recent history, if any.

        When the history cannot be read, the reply is marked ambiguous rather than posted
        a second time.
        """
        web = self._web
        oldest = f"{time.time() - 900:.6f}"
        try:
            if channel[:1] in ("U", "W"):
                opened = await web.conversations_open(users=channel)
                channel = str((opened.get("channel") or {}).get("id") or channel)
            if thread:
                found = await web.conversations_replies(
                    channel=channel, ts=thread, oldest=oldest, limit=200, include_all_metadata=True
                )
            else:
                found = await web.conversations_history(
                    channel=channel, oldest=oldest, limit=100, include_all_metadata=True
                )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
            raise DeliveryError(
                f"cannot tell whether an uncertain post arrived: {describe(e)}",
                platform=PLATFORM,
                ambiguous=True,
            ) from e
        for message in found.get("messages") or ():
            meta = message.get("metadata") or {}
            if (meta.get("event_payload") or {}).get("key") == key:
                return f"{channel}:{message.get('ts')}"
        return None

    def _refused(self, e: SlackApiError, method: str) -> DeliveryError:
        error, status = _error(e), _status(e)
        if status == 429 or error == "ratelimited":
            headers = getattr(e.response, "headers", None) or {}
            retry_after = _retry_after(headers.get("Retry-After") or headers.get("retry-after"))
            return DeliveryError(
                f"{method}: rate limited", platform=PLATFORM, retry_after=retry_after
            )
        permanent = error in _PERMANENT or status in (400, 401, 403, 404)
        return DeliveryError(f"{method}: {error or status}", platform=PLATFORM, permanent=permanent)


def _error(e: SlackApiError) -> str:
    data = getattr(e.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, Mapping) else ""


def _status(e: SlackApiError) -> int:
    status = getattr(e.response, "status_code", 0)
    return status if isinstance(status, int) else 0


def _retry_after(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 1.0
    return min(max(seconds, 1.0), 3600.0)


def describe(e: BaseException) -> str:
    """One line saying what went wrong with a call, without its payload."""
    if isinstance(e, SlackApiError):
        return f"SlackApiError({_error(e) or _status(e)})"
    return type(e).__name__
