"""Shared state in Redis for the scaled mode: every key carries the deployment's prefix."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from store.state import LockTimeout

log = structlog.get_logger(__name__)

# Generic cell rate algorithm: one key per scope holds the theoretical arrival time (ms).
# Redis' own clock keeps every worker on one timeline.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused - now end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > tolerance then return tat - now - tolerance end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(tolerance + interval * 2 + 1000))
return 0
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilms = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilms > cur then redis.call('SET', KEYS[1], untilms, 'PX', tonumber(ARGV[1]) + 1000) end
return untilms
"""

# Releases many conversation locks in one call: each only while it still holds our token
# (one that lapsed and went to another worker is left alone), as redis-py's release does.
_RELEASE_MANY = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""

# Remembers a batch's dedup keys in one command, not one SET each.
_REMEMBER_MANY = """
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 1, 'EX', ARGV[1])
end
return #KEYS
"""

_RENEW = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


IN_FLIGHT = 16
"""Connections a batch of conversation locks may take from the pool: one (a pipeline) now;
the pool must still serve a batch of hundreds of conversations when it is small."""


class RedisState:
    """Dedup keys, conversation locks, a rate limiter shared by all workers, dialogue, leader.

    Conversation locks are redis-py `Lock`s: waiting for one gives up after `lock_wait_s`
    (`LockTimeout`), and a held lock is extended in the background while the work goes on,
    so a slow transaction does not lose it to its time to live.
    """

    def __init__(self, redis: Redis, *, prefix: str = "sb:", lock_wait_s: float = 10.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lock_wait_s = lock_wait_s
        self._gcra = redis.register_script(_GCRA)
        self._pause = redis.register_script(_PAUSE)
        self._renew = redis.register_script(_RENEW)
        self._release_many = redis.register_script(_RELEASE_MANY)
        self._remember_many = redis.register_script(_REMEMBER_MANY)
        self._held: dict[str, Lock] = {}
        self._kept: set[Lock] = set()
        self._keeper: asyncio.Task[None] | None = None

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def seen(self, key: str) -> bool:
        """True when an event with this key was remembered and has not expired: a fast path only."""
        return bool(await self.redis.exists(self._k("dedup", key)))

    async def remember(self, key: str, ttl_seconds: int = 86_400) -> None:
        """Mark an event's key as seen for `ttl_seconds`."""
        await self.redis.set(self._k("dedup", key), 1, ex=ttl_seconds)

    async def seen_many(self, keys: Sequence[str]) -> list[bool]:
        """`seen` for several keys in one command (`MGET`: a value or nil for each)."""
        if not keys:
            return []
        found = await self.redis.mget([self._k("dedup", k) for k in keys])
        return [v is not None for v in found]

    async def remember_many(self, keys: Sequence[str], ttl_seconds: int = 86_400) -> None:
        """`remember` for several keys in one command."""
        if not keys:
            return
        await self._remember_many(keys=[self._k("dedup", k) for k in keys], args=[ttl_seconds])

    def _conversation(self, key: str, ttl_ms: int) -> Lock:
        return Lock(
            self.redis,
            self._k("lock", "conv", key),
            timeout=ttl_ms / 1000,
            blocking_timeout=self.lock_wait_s,
            thread_local=False,
            raise_on_release_error=False,
        )

    @asynccontextmanager
    async def conversation_lock(self, key: str, *, ttl_ms: int = 30_000) -> AsyncIterator[None]:
        """Hold the conversation's lock for the block, extended while the block runs.

        Raises:
            LockTimeout: another worker kept the lock for longer than `lock_wait_s`.
        """
        lock = self._conversation(key, ttl_ms)
        if not await lock.acquire():
            raise LockTimeout(f"conversation {key} stayed locked for {self.lock_wait_s}s")
        self._keep(lock)
        try:
            yield
        finally:
            await self._let_go(lock)

    def _keep(self, lock: Lock) -> None:
        """Extend `lock` while it is held: work may outlast its time to live."""
        self._kept.add(lock)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep_alive(), name="lock-keeper")

    async def _let_go(self, lock: Lock) -> None:
        self._kept.discard(lock)
        try:
            await lock.release()
        except (RedisError, LockError):
            pass  # expired or Redis away: the lock ends with its time to live

    async def _keep_alive(self) -> None:
        while self._kept:
            await asyncio.sleep(min(lock.timeout or 30.0 for lock in self._kept) / 3)
            for lock in list(self._kept):
                if lock not in self._kept:
                    continue
                try:
                    await lock.reacquire()
                except LockNotOwnedError:
                    self._kept.discard(lock)
                    log.warning("lock.lost", lock=str(lock.name))
                except (RedisError, LockError):
                    pass  # Redis away: try again next round while the lock still lives

    async def tally(self, key: str, window_seconds: int, add: int = 1) -> int:
        """Add to a counter that expires `window_seconds` after its first count; its value."""
        name = self._k("tally", key)
        if not add:
            return int(await self.redis.get(name) or 0)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, add)
            pipe.expire(name, window_seconds, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def try_lock_many(self, keys: Sequence[str], *, ttl_ms: int = 30_000) -> set[str]:
        """Take the locks of these conversations that are free right now; the keys taken.

        If Redis fails part way, the locks already taken are given back and the error raised.
        """
        if not keys:
            return set()
        locks = {key: self._conversation(key, ttl_ms) for key in keys}
        for lock in locks.values():
            # The token redis-py's own `acquire` makes, so the lock's `release` and
            # `reacquire` work on it as on any other.
            lock.local.token = uuid.uuid1().hex.encode()
        try:
            # One round trip for the batch, not one per conversation.
            async with self.redis.pipeline(transaction=False) as pipe:
                for lock in locks.values():
                    pipe.set(str(lock.name), lock.local.token, nx=True, px=ttl_ms)
                results = await pipe.execute()
        except BaseException:
            # All or nothing: whichever were taken before Redis went away are given back
            # (the release checks the token, so nobody else's lock is touched).
            with contextlib.suppress(Exception):
                await self._release(list(locks.values()))
            raise
        taken = {k for k, ok in zip(locks, results, strict=True) if ok}
        for key in taken:
            self._held[key] = locks[key]
            self._keep(locks[key])
        return taken

    async def unlock_many(self, keys: Iterable[str]) -> None:
        """Release locks taken with `try_lock_many`; keys not held here are passed over."""
        held = [self._held.pop(k) for k in list(keys) if k in self._held]
        for lock in held:
            self._kept.discard(lock)
        try:
            await self._release(held)
        except RedisError:
            pass  # Redis away: the locks end with their time to live

    async def _release(self, locks: Sequence[Lock]) -> None:
        """Release `locks` still holding our tokens, in one call."""
        mine = [lock for lock in locks if lock.local.token is not None]
        if not mine:
            return
        await self._release_many(
            keys=[str(lock.name) for lock in mine], args=[lock.local.token for lock in mine]
        )
        for lock in mine:
            lock.local.token = None

    async def rate_wait(self, scope: str, *, per_second: float, burst: int = 1) -> float:
        """Take a send slot for `scope`: 0 when allowed now, else the seconds to wait."""
        interval = 1000.0 / per_second
        tolerance = interval * (burst - 1)
        wait_ms = await self._gcra(
            keys=[self._k("rate", scope), self._k("pause", scope)],
            args=[int(interval), int(tolerance)],
        )
        return float(wait_ms) / 1000.0

    async def pause(self, scope: str, seconds: float) -> None:
        """Hold every sender of `scope` back for `seconds`; a longer pause already set stands."""
        await self._pause(keys=[self._k("pause", scope)], args=[max(1, int(seconds * 1000))])

    async def lead(self, name: str, holder: str, ttl_ms: int) -> bool:
        """Take or renew leadership of `name` for `ttl_ms`; True while `holder` leads."""
        return bool(await self._renew(keys=[self._k("leader", name)], args=[holder, ttl_ms]))

    async def ping(self) -> bool:
        """Whether Redis answers."""
        return bool(await self.redis.ping())


class RedisDialogue:
    """Dialogue state in Redis, expiring with the conversation's TTL."""

    def __init__(self, redis: Redis, *, prefix: str = "sb:", lock_wait_s: float = 10.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lock_wait_s = lock_wait_s

    def _k(self, key: str) -> str:
        return f"{self.prefix}dialogue:{key}"

    async def get(self, key: str) -> dict[str, Any] | None:
        """The conversation's dialogue state, or None when there is none or it expired."""
        raw = await self.redis.get(self._k(key))
        return json.loads(raw) if raw else None

    async def set(self, key: str, data: dict[str, Any], ttl_seconds: int) -> None:
        """Replace the conversation's dialogue state; it expires after `ttl_seconds`."""
        await self.redis.set(self._k(key), json.dumps(data), ex=ttl_seconds)

    async def clear(self, key: str) -> None:
        """Forget the conversation's dialogue state."""
        await self.redis.delete(self._k(key))

    async def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Several conversations' states in one round trip (`MGET`)."""
        if not keys:
            return {}
        raws = await self.redis.mget([self._k(k) for k in keys])
        return {k: json.loads(raw) if raw else None for k, raw in zip(keys, raws, strict=True)}

    async def save_many(
        self, states: Mapping[str, dict[str, Any] | None], ttl_seconds: int
    ) -> None:
        """Store (or, for None, end) several conversations' states in one round trip."""
        if not states:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, data in states.items():
                if data is None:
                    pipe.delete(self._k(key))
                else:
                    pipe.set(self._k(key), json.dumps(data), ex=ttl_seconds)
            await pipe.execute()
