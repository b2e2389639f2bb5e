"""Public Facebook and Instagram comments through the whole pipeline.

A signed comment notification comes in; the report becomes a ticket, answered once in
private through the Send API (`recipient.comment_id`) with a short public note under the
comment, and a negative comment is flagged to the desk, as X mentions are. The bodies are the
recorded and documented notifications of `tests/data/payloads/meta/`, signed with the app
secret; the channel's httpx client talks to `FakeMetaApi` over HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from nlu.types import Understander
from tests.e2e.test_meta import app_for, post, state, with_meta
from tests.fakes.meta_api import (
    APP_SECRET,
    FEED_COMMENT,
    FEED_COMMENT_BY_PAGE,
    FEED_COMMENT_EDITED,
    FEED_REACTION,
    INSTAGRAM_COMMENT,
    SEND_PATH,
    FakeMetaApi,
    comment,
    sign,
    signed_headers,
)

WAIT = 30.0
REPORT = "the VPN is down for our whole office, nobody can connect"
ANGRY = "the VPN is down for our whole office, nobody can connect and I am furious, this is awful"
COMMENTS = [
    (FEED_COMMENT, "139560936744456_139620233405726", "comments", "Facebook"),
    (INSTAGRAM_COMMENT, "17865799348089039", "replies", "Instagram"),
]
IDS = ["facebook", "instagram"]


@pytest.fixture
def fake(no_network: None) -> Iterator[FakeMetaApi]:
    with FakeMetaApi() as api:
        yield api  # type: ignore[misc]


def now_s() -> int:
    return int(time.time())


async def _flags(settings: Settings) -> list[dict[str, Any]]:
    from store.db import create_engine, session_factory
    from store.models import TicketEvent
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            rows = await uow.session.execute(
                select(TicketEvent.detail).where(TicketEvent.action == "flagged")
            )
            return [dict(d) for (d,) in rows]
    finally:
        await engine.dispose()


def flags(settings: Settings) -> list[dict[str, Any]]:
    """The detail of every "flagged" ticket event."""
    return asyncio.run(_flags(settings))


def settle(fake: FakeMetaApi, path: str, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while len(fake.calls_to(path)) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize(("example", "cid", "edge", "where"), COMMENTS, ids=IDS)
def test_a_reported_comment_becomes_one_ticket_answered_privately_and_noted_in_public(
    any_settings: Settings,
    understander: Understander,
    fake: FakeMetaApi,
    example: str,
    cid: str,
    edge: str,
    where: str,
) -> None:
    settings = with_meta(any_settings, fake)
    raw = comment(example, text=REPORT, created=now_s())
    public_path = f"{fake.api_url.removeprefix(fake.base_url)}/{cid}/{edge}"
    with app_for(settings, understander) as client:
        first = post(client, raw)
        retry = post(client, raw)
        [private] = fake.wait_for(SEND_PATH, 1, timeout=WAIT)
        settle(fake, public_path, 1)

    assert (first, retry) == ({"accepted": 1, "duplicate": 0}, {"accepted": 0, "duplicate": 1})
    sent = private.json()
    assert sent["recipient"] == {"comment_id": cid}
    assert "INC-1" in sent["message"]["text"]
    [public] = fake.calls_to(public_path)
    said = public.json()["message"]
    assert "INC-1" in said
    assert "VPN" not in said
    tickets, inbox, outbox = state(settings)
    assert tickets == 1
    assert inbox == {"done": 1}
    assert [s for s, _ in outbox] == ["sent"]
    assert flags(settings) == []


@pytest.mark.parametrize(("example", "cid", "edge", "where"), COMMENTS, ids=IDS)
def test_a_negative_comment_is_flagged_to_the_desk_at_once(
    any_settings: Settings,
    understander: Understander,
    fake: FakeMetaApi,
    example: str,
    cid: str,
    edge: str,
    where: str,
) -> None:
    settings = with_meta(any_settings, fake)
    with app_for(settings, understander) as client:
        post(client, comment(example, text=ANGRY, created=now_s()))
        [private] = fake.wait_for(SEND_PATH, 1, timeout=WAIT)

    assert private.json()["recipient"] == {"comment_id": cid}
    [flag] = flags(settings)
    assert flag["where"] == where
    assert flag["reason"] == "negative public message"


def test_edits_reactions_and_the_pages_own_comments_are_acknowledged_and_dropped(
    any_settings: Settings, understander: Understander, fake: FakeMetaApi
) -> None:
    settings = with_meta(any_settings, fake)
    own_ig = comment(INSTAGRAM_COMMENT, text=REPORT, sender="17841400000000000")
    ignored = [
        comment(FEED_COMMENT_EDITED, text=REPORT),
        comment(FEED_REACTION),
        comment(FEED_COMMENT_BY_PAGE, text=REPORT),
        own_ig,
    ]
    with app_for(settings, understander) as client:
        answers = [post(client, raw) for raw in ignored]
    assert answers == [{"accepted": 0, "duplicate": 0}] * len(ignored)
    assert state(settings) == (0, {}, [])
    assert fake.calls == []


def test_forged_and_malformed_comment_notifications_leave_no_trace(
    any_settings: Settings, understander: Understander, fake: FakeMetaApi
) -> None:
    settings = with_meta(any_settings, fake)
    raw = comment(FEED_COMMENT, text=REPORT, created=now_s())
    malformed = raw.replace(b'"from": {', b'"from": "x", "was": {')
    bad_id = raw.replace(b"139560936744456_139620233405726", b"../../me/messages")
    with app_for(settings, understander) as client:
        forged = client.post(
            "/meta/webhook",
            content=raw,
            headers={"X-Hub-Signature-256": sign(raw, APP_SECRET + "x")},
        )
        unsigned = client.post("/meta/webhook", content=raw)
        broken = [
            client.post("/meta/webhook", content=b, headers=signed_headers(b))
            for b in (malformed, bad_id)
        ]
    assert (forged.status_code, unsigned.status_code) == (401, 401)
    assert [b.status_code for b in broken] == [400, 400]
    assert "from" in broken[0].json()["error"]
    assert state(settings) == (0, {}, [])
    assert fake.calls == []
