"""Pulling mentions and DMs from X on a schedule, with cursors that never skip an event."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
import tweepy
from tweepy.asynchronous import AsyncClient

from channels.base import Cursors, Ingest, IngestOutcome
from channels.conversation import Message
from channels.x.parse import (
    Account,
    as_items,
    as_mapping,
    newer,
    parse_dm_events,
    parse_mentions,
    parse_time,
    snowflake,
    tweet_id,
)
from channels.x.send import reset_time

log = structlog.get_logger(__name__)

SINCE_KEY = "x.mentions.since_id"
MENTIONS_START_KEY = "x.mentions.start"
DM_LAST_KEY = "x.dm.last_id"
DM_START_KEY = "x.dm.start"

_TWEET_FIELDS = [
    "author_id",
    "conversation_id",
    "created_at",
    "entities",
    "in_reply_to_user_id",
    "referenced_tweets",
]
_DM_FIELDS = ["id", "event_type", "text", "sender_id", "dm_conversation_id", "created_at"]
_USER_FIELDS = ["username", "name"]

Accept = Callable[[Ingest, Message], Awaitable[IngestOutcome]]
"""Hands one polled event on (the channel marks mentions for a public answer first)."""


def poll_delay(
    *,
    interval: float,
    failures: int,
    reset_time: float | None = None,
    rate_limited: bool = False,
    now: float | None = None,
    cap: float = 900.0,
) -> float:
    """Seconds until the next poll.

    After a 429, until the advertised reset plus a second (X's clock counts whole seconds),
    or exponential back-off when no reset was given; after other failures, exponential
    back-off from the interval. Always at least the interval, never more than `cap`.
    """
    backoff = interval * 2 ** max(failures - 1, 0) if failures else interval
    if rate_limited and reset_time is not None:
        now = time.time() if now is None else now
        wait = max(reset_time - now + 1.0, interval)
    else:
        wait = backoff
    return min(max(wait, interval), max(cap, interval))


@dataclass
class _Source:
    name: str
    interval: float
    poll: Callable[[Ingest], Awaitable[int]]
    due: float = 0.0
    failures: int = 0


@dataclass
class Poller:
    """Mentions (and DMs, when `dm_poll_interval` > 0) pulled with the account's client."""

    api: Callable[[], AsyncClient]
    account: Callable[[], Awaitable[Account]]
    cursors: Cursors
    accept: Accept
    user_auth: bool
    poll_interval: float = 60.0
    dm_poll_interval: float = 60.0
    max_backoff: float = 900.0
    backfill: float = 900.0
    page_size: int = 100
    max_pages: int = 50

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Poll until `stop` is set.

        A 429 waits for the advertised reset, other failures back off exponentially, both
        capped at `max_backoff`; a failed poll never moves a cursor, so nothing is skipped.
        """
        sources = [_Source("mentions", self.poll_interval, self.poll_mentions)]
        if self.dm_poll_interval > 0:
            sources.append(_Source("dms", self.dm_poll_interval, self.poll_direct_messages))
        log.info("x.polling", sources=[s.name for s in sources])
        while not stop.is_set():
            for source in sources:
                if time.monotonic() >= source.due and not stop.is_set():
                    source.due = time.monotonic() + await self._poll_once(source, ingest)
            wait = min(s.due for s in sources) - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.01))

    async def _poll_once(self, source: _Source, ingest: Ingest) -> float:
        try:
            count = await source.poll(ingest)
        except tweepy.TooManyRequests as e:
            source.failures += 1
            delay = poll_delay(
                interval=source.interval,
                failures=source.failures,
                reset_time=reset_time(e),
                rate_limited=True,
                cap=self.max_backoff,
            )
            log.warning("x.poll_rate_limited", source=source.name, retry_in=round(delay, 1))
            return delay
        except Exception as e:
            source.failures += 1
            delay = poll_delay(
                interval=source.interval, failures=source.failures, cap=self.max_backoff
            )
            log.warning(
                "x.poll_failed", source=source.name, error=repr(e), retry_in=round(delay, 1)
            )
            return delay
        source.failures = 0
        if count:
            log.info("x.polled", source=source.name, count=count)
        return source.interval

    async def _start_time(self, key: str) -> str:
        """Where the first poll starts: `backfill` seconds before the channel first ran.

        Older mentions and DMs predate the deployment and are not answered; the short
        backfill covers what arrived while the first release was rolling out.
        """
        found = await self.cursors.get(key)
        if found:
            return found
        start = datetime.fromtimestamp(int(time.time() - self.backfill), UTC)
        value = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.cursors.set(key, value)
        return value

    async def poll_mentions(self, ingest: Ingest) -> int:
        """Ingest every mention newer than the stored `since_id`, then move it.

        All pages are fetched and every mention ingested before `since_id` moves; a failure
        on the way leaves it where it was, and the inbox drops what is seen again.
        """
        me = await self.account()
        since = await self.cursors.get(SINCE_KEY)
        params: dict[str, Any] = {
            "max_results": self.page_size,
            "expansions": ["author_id"],
            "tweet_fields": _TWEET_FIELDS,
            "user_fields": _USER_FIELDS,
            "user_auth": self.user_auth,
        }
        if since:
            params["since_id"] = since
        else:
            params["start_time"] = await self._start_time(MENTIONS_START_KEY)
        newest: str | None = None
        found: list[Message] = []
        token: str | None = None
        for _ in range(self.max_pages):
            page = await self.api().get_users_mentions(me.id, pagination_token=token, **params)
            meta = as_mapping(page.get("meta"))
            newest = newest or snowflake(meta.get("newest_id"))
            found.extend(parse_mentions(page, account_id=me.id))
            token = meta.get("next_token") or None
            if token is None:
                break
        else:
            raise RuntimeError(f"mentions still paging after {self.max_pages} pages")
        for event in sorted(found, key=lambda m: int(tweet_id(m) or 0)):
            await self.accept(ingest, event)
        if newer(newest, since):
            await self.cursors.set(SINCE_KEY, newest or "")
        return len(found)

    async def poll_direct_messages(self, ingest: Ingest) -> int:
        """Ingest DMs people sent since the last one seen (`GET /2/dm_events`, newest first)."""
        me = await self.account()
        last = await self.cursors.get(DM_LAST_KEY)
        start = None if last else parse_time(await self._start_time(DM_START_KEY))
        newest: str | None = None
        found: list[Message] = []
        token: str | None = None
        for _ in range(self.max_pages):
            page = await self.api().get_direct_message_events(
                event_types="MessageCreate",
                dm_event_fields=_DM_FIELDS,
                expansions=["sender_id"],
                user_fields=_USER_FIELDS,
                max_results=self.page_size,
                pagination_token=token,
                user_auth=self.user_auth,
            )
            data = as_items(page.get("data"))
            ids = [i for i in (snowflake(d.get("id")) for d in data) if i is not None]
            for i in ids:
                if newer(i, newest):
                    newest = i
            found.extend(parse_dm_events(page, account_id=me.id))
            older = [parse_time(d.get("created_at")) for d in data]
            reached = (last is not None and any(not newer(i, last) for i in ids)) or (
                start is not None and any(t < start for t in older)
            )
            token = as_mapping(page.get("meta")).get("next_token") or None
            if reached or token is None:
                break
        fresh = [
            m
            for m in found
            if newer(m.event_id.partition(":")[2], last)
            and (start is None or m.received_at >= start)
        ]
        for event in sorted(fresh, key=lambda m: int(m.event_id.partition(":")[2])):
            await self.accept(ingest, event)
        if newer(newest, last):
            await self.cursors.set(DM_LAST_KEY, newest or "")
        return len(fresh)
