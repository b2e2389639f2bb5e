"""Ticket news for live pages: a committed change reaches subscribers, here and across Redis."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from bot.web.live import NEWS, Change, TicketNews
from store.db import SessionFactory
from store.enums import Priority, Status, TicketKind
from store.uow import UnitOfWork


async def _incident(factory: SessionFactory) -> int:
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        assert alice is not None
        t = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="VPN drops", requester=alice, priority=Priority.P3
        )
        await uow.commit()
        return t.id


async def test_a_committed_change_reaches_the_tickets_subscribers(
    factory: SessionFactory,
) -> None:
    ticket_id = await _incident(factory)
    other_id = await _incident(factory)
    with NEWS.subscribe(ticket_id) as news, NEWS.subscribe(other_id) as other:
        async with UnitOfWork(factory) as uow:
            t = await uow.tickets.get(ticket_id)
            assert t is not None
            t.status = Status.ON_HOLD
            await uow.flush()
            assert news.empty()  # nothing before the commit
            await uow.commit()
        change = news.get_nowait()
        assert change.ticket_id == ticket_id
        assert change.status == Status.ON_HOLD.value
        assert change.version == 2
        assert other.empty()


async def test_a_rolled_back_change_is_not_news(factory: SessionFactory) -> None:
    ticket_id = await _incident(factory)
    with NEWS.subscribe(ticket_id) as news:
        async with UnitOfWork(factory) as uow:
            t = await uow.tickets.get(ticket_id)
            assert t is not None
            t.status = Status.ON_HOLD
            await uow.flush()
            await uow.rollback()
        assert news.empty()


async def test_an_event_alone_is_news_without_a_version(factory: SessionFactory) -> None:
    ticket_id = await _incident(factory)
    with NEWS.subscribe(ticket_id) as news:
        async with UnitOfWork(factory) as uow:
            t = await uow.tickets.get(ticket_id)
            assert t is not None
            uow.tickets.log(t, "noted", actor=None, text="checked the cable")
            await uow.commit()
        assert news.get_nowait() == Change(ticket_id)


def test_a_process_ignores_its_own_published_news_and_junk() -> None:
    here, there = TicketNews(), TicketNews()
    with here.subscribe(7) as queue:
        here.received_body(json.dumps({"o": here._origin, "t": [[7, 3, "new"]]}))
        here.received_body(b"not json")
        here.received_body('{"o": "x", "t": [["7", 3, "new"], 5]}')
        assert queue.empty()
        here.received_body(json.dumps({"o": there._origin, "t": [[7, 3, "resolved"]]}))
        assert queue.get_nowait() == Change(7, 3, "resolved")


async def test_news_crosses_processes_through_redis(redis_target: tuple[str, str]) -> None:
    url, prefix = redis_target
    web_redis, worker_redis = Redis.from_url(url), Redis.from_url(url)
    web, worker = TicketNews(), TicketNews()
    try:
        web.bind(web_redis, prefix)
        worker.bind(worker_redis, prefix)
        with web.subscribe(42) as news:
            # The listener subscribes in the background; publish until it is heard.
            for _ in range(50):
                worker.announce([Change(42, 5, "resolved")])
                try:
                    change = await asyncio.wait_for(news.get(), 0.2)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("no news crossed Redis")
        assert change == Change(42, 5, "resolved")
        assert web.published == 0
    finally:
        web.release(web_redis)
        worker.release(worker_redis)
        await web_redis.aclose()
        await worker_redis.aclose()
