"""Short-lived shared state: dedup fast path, conversation locks, rate limits, leader.

`LocalState` serves the embedded mode (one process); `store.redis_state.RedisState` serves
several processes. Dialogue state lives in the database when embedded (written in the same
transaction as the handler's changes) and in Redis when scaled (`Dialogue` protocol).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, runtime_checkable

from store.errors import StoreError


class LockTimeout(StoreError):
    """A conversation's lock stayed taken longer than the caller was willing to wait."""


class Dialogue(Protocol):
    """Per-conversation dialogue state that expires."""

    async def get(self, key: str) -> dict[str, Any] | None:
        """A conversation's dialogue state, None when there is none or it expired."""
        ...

    async def set(self, key: str, data: dict[str, Any], ttl_seconds: int) -> None:
        """Store a conversation's dialogue state for `ttl_seconds`."""
        ...

    async def clear(self, key: str) -> None:
        """End a conversation's dialogue."""
        ...


@runtime_checkable
class ManyDialogue(Dialogue, Protocol):
    """Dialogue state that reads and writes many conversations in one round trip."""

    async def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Each conversation's state (None when there is none or it expired)."""
        ...

    async def save_many(
        self, states: Mapping[str, dict[str, Any] | None], ttl_seconds: int
    ) -> None:
        """Store each conversation's state for `ttl_seconds`; None ends its dialogue."""
        ...


class SharedState(Protocol):
    """What workers and web processes share besides the database."""

    async def seen(self, key: str) -> bool:
        """True when an event with this key was stored before (a fast path only).

        The inbox's unique constraint decides; a key is remembered only after its event
        committed, so a failed attempt never makes a platform's retry look like a duplicate.
        """
        ...

    async def remember(self, key: str, ttl_seconds: int = 86_400) -> None:
        """Mark an event key as stored, for `ttl_seconds`."""
        ...

    async def seen_many(self, keys: Sequence[str]) -> list[bool]:
        """`seen` for several keys in one round trip."""
        ...

    async def remember_many(self, keys: Sequence[str], ttl_seconds: int = 86_400) -> None:
        """`remember` for several keys in one round trip."""
        ...

    def conversation_lock(self, key: str, *, ttl_ms: int = 30_000) -> Any:
        """An async context manager holding the conversation's lock.

        It waits for the lock a bounded time and raises `LockTimeout` after that.
        """
        ...

    async def tally(self, key: str, window_seconds: int, add: int = 1) -> int:
        """Add to a counter that resets `window_seconds` after its first count; its value."""
        ...

    async def try_lock_many(self, keys: Sequence[str], *, ttl_ms: int = 30_000) -> set[str]:
        """Take the locks of these conversations that are free right now; the keys taken."""
        ...

    async def unlock_many(self, keys: Iterable[str]) -> None:
        """Release locks taken with `try_lock_many`."""
        ...

    async def rate_wait(self, scope: str, *, per_second: float, burst: int = 1) -> float:
        """Take a send slot for `scope`: 0 when allowed now, else the seconds to wait."""
        ...

    async def pause(self, scope: str, seconds: float) -> None:
        """Hold every sender of `scope` back (a platform asked us to wait)."""
        ...

    async def lead(self, name: str, holder: str, ttl_ms: int) -> bool:
        """Take or renew leadership of `name`; True while `holder` leads."""
        ...

    async def ping(self) -> bool:
        """True when the backing store answers."""
        ...


class LocalState:
    """Shared state for one process."""

    def __init__(self, *, dedup_size: int = 100_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._dedup_size = dedup_size
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._held: dict[str, asyncio.Lock] = {}
        self._tallies: dict[str, tuple[int, float]] = {}
        self._tat: dict[str, float] = {}
        self._paused: dict[str, float] = {}

    async def seen(self, key: str) -> bool:
        """True when the key was remembered and has not expired."""
        expires = self._seen.get(key)
        return expires is not None and expires > time.monotonic()

    async def remember(self, key: str, ttl_seconds: int = 86_400) -> None:
        """Remember a key; the oldest ones go beyond the dedup size."""
        self._seen[key] = time.monotonic() + ttl_seconds
        self._seen.move_to_end(key)
        while len(self._seen) > self._dedup_size:
            self._seen.popitem(last=False)

    async def seen_many(self, keys: Sequence[str]) -> list[bool]:
        """`seen` for each key."""
        return [await self.seen(k) for k in keys]

    async def remember_many(self, keys: Sequence[str], ttl_seconds: int = 86_400) -> None:
        """`remember` for each key."""
        for k in keys:
            await self.remember(k, ttl_seconds)

    async def tally(self, key: str, window_seconds: int, add: int = 1) -> int:
        """Add to a fixed-window counter and return its total in the window."""
        now = time.monotonic()
        count, until = self._tallies.get(key, (0, now + window_seconds))
        if until <= now:
            count, until = 0, now + window_seconds
        if add:
            self._tallies[key] = (count + add, until)
        return count + add

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    @asynccontextmanager
    async def conversation_lock(self, key: str, *, ttl_ms: int = 30_000) -> AsyncIterator[None]:
        """Hold the conversation's lock while the block runs."""
        # The local reference keeps the lock alive while anyone holds or awaits it; the weak
        # mapping forgets it afterwards, so idle conversations cost nothing.
        lock = self._lock(key)
        async with lock:
            yield

    async def try_lock_many(self, keys: Sequence[str], *, ttl_ms: int = 30_000) -> set[str]:
        """Take the locks that are free now, without waiting; return the keys taken."""
        taken: set[str] = set()
        for key in keys:
            lock = self._lock(key)
            if not lock.locked():
                await lock.acquire()  # free: returns without suspending
                self._held[key] = lock
                taken.add(key)
        return taken

    async def unlock_many(self, keys: Iterable[str]) -> None:
        """Release locks taken by `try_lock_many`."""
        for key in keys:
            lock = self._held.pop(key, None)
            if lock is not None and lock.locked():
                lock.release()

    async def rate_wait(self, scope: str, *, per_second: float, burst: int = 1) -> float:
        """Seconds to wait before the next call in `scope`, 0 when it may go now."""
        now = time.monotonic()
        paused = self._paused.get(scope, 0.0)
        if paused > now:
            return paused - now
        interval = 1.0 / per_second
        tolerance = interval * (burst - 1)
        tat = max(self._tat.get(scope, now), now)
        if tat - now > tolerance:
            return tat - now - tolerance
        self._tat[scope] = tat + interval
        return 0.0

    async def pause(self, scope: str, seconds: float) -> None:
        """Hold every call in `scope` back for `seconds`."""
        until = time.monotonic() + seconds
        self._paused[scope] = max(self._paused.get(scope, 0.0), until)

    async def lead(self, name: str, holder: str, ttl_ms: int) -> bool:
        """Always True: a single process leads itself."""
        return True

    async def ping(self) -> bool:
        """Always True: there is nothing remote to reach."""
        return True
