"""Shared state in Redis for the scaled mode: every key carries the deployment's prefix."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

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

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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


class RedisState:
    """Dedup keys, conversation locks, a rate limiter shared by all workers, dialogue, leader."""

    def __init__(self, redis: Redis, *, prefix: str = "sb:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._gcra = redis.register_script(_GCRA)
        self._pause = redis.register_script(_PAUSE)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)
        self._held: dict[str, str] = {}

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def seen(self, key: str) -> bool:
        return bool(await self.redis.exists(self._k("dedup", key)))

    async def remember(self, key: str, ttl_seconds: int = 86_400) -> None:
        await self.redis.set(self._k("dedup", key), 1, ex=ttl_seconds)

    async def seen_many(self, keys: Sequence[str]) -> list[bool]:
        if not keys:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.exists(self._k("dedup", k))
            return [bool(n) for n in await pipe.execute()]

    async def remember_many(self, keys: Sequence[str], ttl_seconds: int = 86_400) -> None:
        if not keys:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.set(self._k("dedup", k), 1, ex=ttl_seconds)
            await pipe.execute()

    @asynccontextmanager
    async def conversation_lock(self, key: str, *, ttl_ms: int = 30_000) -> AsyncIterator[None]:
        name = self._k("lock", "conv", key)
        token = secrets.token_hex(8)
        delay = 0.005
        while not await self.redis.set(name, token, nx=True, px=ttl_ms):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            try:
                await self._release(keys=[name], args=[token])
            except RedisError:
                pass  # the lock expires on its own

    async def tally(self, key: str, window_seconds: int, add: int = 1) -> int:
        name = self._k("tally", key)
        if not add:
            return int(await self.redis.get(name) or 0)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, add)
            pipe.expire(name, window_seconds, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def try_lock_many(self, keys: Sequence[str], *, ttl_ms: int = 30_000) -> set[str]:
        if not keys:
            return set()
        token = secrets.token_hex(8)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(self._k("lock", "conv", key), token, nx=True, px=ttl_ms)
            results = await pipe.execute()
        taken = {k for k, ok in zip(keys, results, strict=True) if ok}
        for key in taken:
            self._held[key] = token
        return taken

    async def unlock_many(self, keys: Iterable[str]) -> None:
        held = [(k, self._held.pop(k)) for k in list(keys) if k in self._held]
        if not held:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, token in held:
                # Scripts called on a pipeline are loaded before it runs.
                await self._release(keys=[self._k("lock", "conv", key)], args=[token], client=pipe)
            try:
                await pipe.execute()
            except RedisError:
                pass  # the locks expire on their own

    async def rate_wait(self, scope: str, *, per_second: float, burst: int = 1) -> float:
        interval = 1000.0 / per_second
        tolerance = interval * (burst - 1)
        wait_ms = await self._gcra(
            keys=[self._k("rate", scope), self._k("pause", scope)],
            args=[int(interval), int(tolerance)],
        )
        return float(wait_ms) / 1000.0

    async def pause(self, scope: str, seconds: float) -> None:
        await self._pause(keys=[self._k("pause", scope)], args=[max(1, int(seconds * 1000))])

    async def lead(self, name: str, holder: str, ttl_ms: int) -> bool:
        return bool(await self._renew(keys=[self._k("leader", name)], args=[holder, ttl_ms]))

    async def ping(self) -> bool:
        return bool(await self.redis.ping())


class RedisDialogue:
    """Dialogue state in Redis, expiring with the conversation's TTL."""

    def __init__(self, redis: Redis, *, prefix: str = "sb:") -> None:
        self.redis = redis
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return f"{self.prefix}dialogue:{key}"

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self._k(key))
        return json.loads(raw) if raw else None

    async def set(self, key: str, data: dict[str, Any], ttl_seconds: int) -> None:
        await self.redis.set(self._k(key), json.dumps(data), ex=ttl_seconds)

    async def clear(self, key: str) -> None:
        await self.redis.delete(self._k(key))
