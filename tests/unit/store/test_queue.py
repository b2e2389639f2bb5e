"""One contract for both queues: in-process (embedded) and Redis Streams (scaled)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from store.queue import InProcessQueue, Queue, RedisStreamQueue


@pytest.fixture(params=["inprocess", pytest.param("redis", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str] | None:
    return None if request.param == "inprocess" else request.getfixturevalue("redis_target")


@pytest.fixture
async def queue(backend: tuple[str, str] | None) -> AsyncIterator[Queue]:
    if backend is None:
        q: Queue = InProcessQueue()
        await q.start()
        yield q
        return
    url, prefix = backend
    redis = Redis.from_url(url, decode_responses=True)
    q = RedisStreamQueue(redis, prefix=prefix, reclaim_idle_ms=200, reclaim_every_s=0.0)
    await q.start()
    yield q
    await redis.aclose()


async def test_put_claim_ack(queue: Queue) -> None:
    await queue.put([1, 2, 3])
    assert await queue.depth() == 3
    jobs = await queue.claim("w1", count=10, block_ms=100)
    assert [j.inbox_id for j in jobs] == [1, 2, 3]
    await queue.ack(jobs)
    assert await queue.claim("w1", count=10, block_ms=50) == []


async def test_claim_respects_count(queue: Queue) -> None:
    await queue.put(list(range(10, 20)))
    first = await queue.claim("w1", count=4, block_ms=100)
    second = await queue.claim("w1", count=100, block_ms=100)
    assert [j.inbox_id for j in first] == [10, 11, 12, 13]
    assert [j.inbox_id for j in second] == list(range(14, 20))
    await queue.ack(first + second)


async def test_empty_claim_blocks_then_returns_nothing(queue: Queue) -> None:
    assert await queue.claim("w1", count=5, block_ms=50) == []


async def test_blocked_claim_wakes_on_put(queue: Queue) -> None:
    waiter = asyncio.create_task(queue.claim("w1", count=5, block_ms=2000))
    await asyncio.sleep(0.05)
    await queue.put([42])
    jobs = await asyncio.wait_for(waiter, timeout=3)
    assert [j.inbox_id for j in jobs] == [42]
    await queue.ack(jobs)


@pytest.mark.integration
async def test_entries_of_a_dead_consumer_are_reclaimed(redis_target: tuple[str, str]) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        q = RedisStreamQueue(redis, prefix=prefix, reclaim_idle_ms=100, reclaim_every_s=0.0)
        await q.start()
        await q.put([7, 8])
        taken = await q.claim("dead-worker", count=10, block_ms=100)
        assert [j.inbox_id for j in taken] == [7, 8]
        # Nothing new for a live worker until the dead one's entries have idled long enough.
        fresh = RedisStreamQueue(redis, prefix=prefix, reclaim_idle_ms=100, reclaim_every_s=0.0)
        await asyncio.sleep(0.25)
        again = await fresh.claim("live-worker", count=10, block_ms=100)
        assert sorted(j.inbox_id for j in again) == [7, 8]
        await fresh.ack(again)
        assert await q.depth() == 0
    finally:
        await redis.aclose()


@pytest.mark.integration
async def test_a_restarted_consumer_first_takes_back_its_own_entries(
    redis_target: tuple[str, str],
) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        before = RedisStreamQueue(redis, prefix=prefix, reclaim_idle_ms=60_000)
        await before.start()
        await before.put([1])
        assert [j.inbox_id for j in await before.claim("host-1", count=5, block_ms=100)] == [1]
        after = RedisStreamQueue(redis, prefix=prefix, reclaim_idle_ms=60_000)
        again = await after.claim("host-1", count=5, block_ms=100)
        assert [j.inbox_id for j in again] == [1]
        await after.ack(again)
    finally:
        await redis.aclose()


@pytest.mark.integration
async def test_the_group_comes_back_after_redis_lost_its_data(
    redis_target: tuple[str, str],
) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        q = RedisStreamQueue(redis, prefix=prefix, reclaim_every_s=0.0)
        await q.start()
        await q.put([1])
        await q.ack(await q.claim("host-1", count=5, block_ms=100))
        # What a restart without persistence leaves: no stream, no consumer group.
        await redis.delete(f"{prefix}inbox")
        assert await q.claim("host-1", count=5, block_ms=100) == []
        await q.put([2])
        assert [j.inbox_id for j in await q.claim("host-1", count=5, block_ms=100)] == [2]
    finally:
        await redis.aclose()
