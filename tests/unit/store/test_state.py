"""Shared state: dedup fast path, conversation locks, the shared rate limiter, leadership."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from store.redis_state import IN_FLIGHT, RedisDialogue, RedisState
from store.state import LocalState, LockTimeout, SharedState


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str] | None:
    return None if request.param == "local" else request.getfixturevalue("redis_target")


@pytest.fixture
async def state(backend: tuple[str, str] | None) -> AsyncIterator[SharedState]:
    if backend is None:
        yield LocalState()
        return
    url, prefix = backend
    redis = Redis.from_url(url, decode_responses=True)
    yield RedisState(redis, prefix=prefix)
    await redis.aclose()


async def test_dedup_remembers_only_what_it_was_told(state: SharedState) -> None:
    assert not await state.seen("slack:Ev1")
    await state.remember("slack:Ev1")
    assert await state.seen("slack:Ev1")
    assert not await state.seen("slack:Ev2")


async def test_conversation_lock_serialises(state: SharedState) -> None:
    inside = 0
    most = 0

    async def work() -> None:
        nonlocal inside, most
        async with state.conversation_lock("c1"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(8)))
    assert most == 1


async def test_rate_limit_allows_burst_then_asks_to_wait(state: SharedState) -> None:
    waits = [await state.rate_wait("x:conv:1", per_second=2.0, burst=2) for _ in range(3)]
    assert waits[0] == 0
    assert waits[1] == 0
    assert 0.3 < waits[2] <= 0.5


async def test_pause_holds_back_every_sender(state: SharedState) -> None:
    await state.pause("slack:conv:C1", 2.0)
    wait = await state.rate_wait("slack:conv:C1", per_second=100.0, burst=10)
    assert 1.5 < wait <= 2.0
    assert await state.rate_wait("slack:conv:C2", per_second=100.0, burst=10) == 0


async def test_rate_limit_spaces_sends(state: SharedState) -> None:
    granted = []
    start = time.monotonic()
    while len(granted) < 4:
        wait = await state.rate_wait("t:all", per_second=20.0, burst=1)
        if wait > 0:
            await asyncio.sleep(wait)
            continue
        granted.append(time.monotonic() - start)
    # Four sends at 20/s take at least three intervals of 50 ms.
    assert granted[-1] >= 0.14


@pytest.mark.integration
async def test_one_leader_at_a_time(redis_target: tuple[str, str]) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        s = RedisState(redis, prefix=prefix)
        assert await s.lead("scheduler", "a", 300)
        assert not await s.lead("scheduler", "b", 300)
        assert await s.lead("scheduler", "a", 300)
        await asyncio.sleep(0.4)
        assert await s.lead("scheduler", "b", 300)
    finally:
        await redis.aclose()


@pytest.mark.integration
async def test_redis_dialogue_expires(redis_target: tuple[str, str]) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        d = RedisDialogue(redis, prefix=prefix)
        await d.set("conv", {"expect": {"slot": "service"}}, 1)
        assert await d.get("conv") == {"expect": {"slot": "service"}}
        await asyncio.sleep(1.2)
        assert await d.get("conv") is None
    finally:
        await redis.aclose()


async def test_try_lock_many_takes_only_free_conversations(state: SharedState) -> None:
    taken = await state.try_lock_many(["a", "b"])
    assert taken == {"a", "b"}
    # A second taker (another worker) gets only what is free.
    other = await state.try_lock_many(["b", "c"])
    assert other == {"c"}
    await state.unlock_many(taken)
    await state.unlock_many(other)
    assert await state.try_lock_many(["a", "b", "c"]) == {"a", "b", "c"}


async def test_a_held_batch_lock_blocks_a_waiting_locker(state: SharedState) -> None:
    import asyncio

    taken = await state.try_lock_many(["k"])
    entered = asyncio.Event()

    async def waiter() -> None:
        async with state.conversation_lock("k"):
            entered.set()

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0.05)
    assert not entered.is_set()
    await state.unlock_many(taken)
    await asyncio.wait_for(task, timeout=2)
    assert entered.is_set()


async def test_tally_counts_within_a_window(state: SharedState) -> None:
    import asyncio

    assert await state.tally("misses:1", 1, 0) == 0
    assert [await state.tally("misses:1", 1) for _ in range(3)] == [1, 2, 3]
    assert await state.tally("misses:1", 1, 0) == 3
    assert await state.tally("misses:2", 1, 0) == 0
    await asyncio.sleep(1.1)
    assert await state.tally("misses:1", 1, 0) == 0
    assert await state.tally("misses:1", 1) == 1


@pytest.mark.integration
async def test_a_held_conversation_lock_outlives_its_time_to_live(
    redis_target: tuple[str, str],
) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        holder = RedisState(redis, prefix=prefix)
        other = RedisState(redis, prefix=prefix, lock_wait_s=0.2)
        async with holder.conversation_lock("slow", ttl_ms=300):
            # Three times the lock's time to live: the holder keeps extending it.
            await asyncio.sleep(0.9)
            assert await other.try_lock_many(["slow"]) == set()
            with pytest.raises(LockTimeout):
                async with other.conversation_lock("slow"):
                    pass
        assert await other.try_lock_many(["slow"]) == {"slow"}
        await other.unlock_many(["slow"])
    finally:
        await redis.aclose()


@pytest.mark.integration
async def test_waiting_for_a_conversation_lock_gives_up(redis_target: tuple[str, str]) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        state = RedisState(redis, prefix=prefix, lock_wait_s=0.3)
        assert await state.try_lock_many(["busy"]) == {"busy"}
        with pytest.raises(LockTimeout):
            async with state.conversation_lock("busy"):
                pass
        await state.unlock_many(["busy"])
        async with state.conversation_lock("busy"):
            assert await redis.exists(f"{prefix}lock:conv:busy")
        assert not await redis.exists(f"{prefix}lock:conv:busy")
    finally:
        await redis.aclose()


async def test_a_large_batch_of_locks_fits_a_small_connection_pool(
    backend: tuple[str, str] | None,
) -> None:
    if backend is None:
        pytest.skip("a connection pool is Redis's")
    url, prefix = backend
    # A worker batch may hold hundreds of conversations; the pool must not run dry.
    redis = Redis.from_url(url, decode_responses=True, max_connections=IN_FLIGHT + 4)
    state = RedisState(redis, prefix=prefix)
    keys = [f"pool:{i}" for i in range(300)]
    try:
        assert await state.try_lock_many(keys) == set(keys)
        assert await state.try_lock_many(keys[:10]) == set()
        await state.unlock_many(keys)
        assert await state.try_lock_many(keys[:10]) == set(keys[:10])
        await state.unlock_many(keys[:10])
    finally:
        await redis.aclose()


async def test_redis_dialogue_reads_and_writes_many_at_once(
    redis_target: tuple[str, str],
) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url, decode_responses=True)
    try:
        d = RedisDialogue(redis, prefix=prefix)
        await d.set("gone", {"step": 1}, 60)
        await d.save_many({"a": {"step": 2}, "b": {"step": 3}, "gone": None}, 60)
        assert await d.get_many(["a", "b", "gone", "never"]) == {
            "a": {"step": 2},
            "b": {"step": 3},
            "gone": None,
            "never": None,
        }
        assert 0 < await redis.ttl(f"{prefix}dialogue:a") <= 60
    finally:
        await redis.aclose()


async def test_unlock_many_leaves_a_lock_that_lapsed_to_another_worker(
    redis_target: tuple[str, str],
) -> None:
    url, prefix = redis_target
    redis = Redis.from_url(url)
    first, second = RedisState(redis, prefix=prefix), RedisState(redis, prefix=prefix)
    try:
        assert await first.try_lock_many(["k", "j"]) == {"k", "j"}
        # "k" lapsed (a stalled worker) and another worker took it.
        await redis.delete(f"{prefix}lock:conv:k")
        assert await second.try_lock_many(["k", "j"]) == {"k"}
        await first.unlock_many(["k", "j"])
        assert await second.try_lock_many(["j"]) == {"j"}
        assert await RedisState(redis, prefix=prefix).try_lock_many(["k"]) == set()
        await second.unlock_many(["k", "j"])
        assert await redis.exists(f"{prefix}lock:conv:k", f"{prefix}lock:conv:j") == 0
    finally:
        await redis.aclose()
