"""The work queue between the ack path and the workers: in-process or Redis Streams.

The queue carries only inbox ids; the inbox row is the truth. Losing a queue entry delays an
event (the recovery sweep finds pending rows) but never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import ResponseError


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed queue entry: the inbox row to process and the entry to acknowledge."""

    inbox_id: int
    token: str


class Queue(Protocol):
    """At-least-once delivery of inbox ids to workers."""

    async def start(self) -> None:
        """Prepare the queue (create the consumer group)."""

    async def put(self, inbox_ids: Sequence[int]) -> None:
        """Queue these inbox ids."""

    async def claim(self, consumer: str, *, count: int, block_ms: int) -> list[Job]:
        """Up to `count` entries for `consumer`, waiting up to `block_ms` for the first."""

    async def ack(self, jobs: Sequence[Job]) -> None:
        """Mark these entries done."""

    async def depth(self) -> int:
        """How many entries wait or are claimed but not acknowledged."""

    async def aclose(self) -> None:
        """Release the connection."""


class InProcessQueue:
    """An asyncio queue for the embedded mode: web and worker share one process.

    Entries are lost with the process, which is why the worker refills it from the inbox's
    pending rows when it starts.
    """

    def __init__(self) -> None:
        self._q: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()

    async def start(self) -> None:
        """Nothing to prepare in process."""

    async def put(self, inbox_ids: Sequence[int]) -> None:
        """Queue these inbox ids."""
        for i in inbox_ids:
            if i not in self._queued:
                self._queued.add(i)
                self._q.put_nowait(i)

    async def claim(self, consumer: str, *, count: int, block_ms: int) -> list[Job]:
        """Up to `count` entries, waiting up to `block_ms` for the first."""
        jobs: list[Job] = []
        if self._q.empty():
            with contextlib.suppress(TimeoutError):
                first = await asyncio.wait_for(self._q.get(), timeout=block_ms / 1000)
                jobs.append(Job(first, str(first)))
        while len(jobs) < count and not self._q.empty():
            i = self._q.get_nowait()
            jobs.append(Job(i, str(i)))
        for j in jobs:
            self._queued.discard(j.inbox_id)
        return jobs

    async def ack(self, jobs: Sequence[Job]) -> None:
        """Mark these entries done."""

    async def depth(self) -> int:
        """How many entries wait."""
        return self._q.qsize()

    async def aclose(self) -> None:
        """Nothing to release in process."""


# A batch in one command: a pipeline of one XADD per id made the web role pack a command and
# parse a reply for every event it acknowledged.
_PUT = """
for i = 1, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'inbox_id', ARGV[i])
end
return #ARGV
"""


class RedisStreamQueue:
    """Redis Streams with one consumer group shared by every worker process.

    A worker that dies leaves its entries pending; after `reclaim_idle_ms` another worker
    takes them over with `XAUTOCLAIM`. Entries are deleted once acknowledged, so the stream
    length is the backlog.
    """

    GROUP = "workers"

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "sb:",
        reclaim_idle_ms: int = 30_000,
        reclaim_every_s: float = 5.0,
    ) -> None:
        self.redis = redis
        self.stream = f"{prefix}inbox"
        self.reclaim_idle_ms = reclaim_idle_ms
        self.reclaim_every_s = reclaim_every_s
        self._last_reclaim: dict[str, float] = {}
        self._own_pending_done: set[str] = set()
        self._put = redis.register_script(_PUT)

    async def start(self) -> None:
        """Create the stream and its consumer group unless they exist."""
        try:
            await self.redis.xgroup_create(self.stream, self.GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    async def put(self, inbox_ids: Sequence[int]) -> None:
        """Append these inbox ids to the stream."""
        if not inbox_ids:
            return
        await self._put(keys=[self.stream], args=[str(i) for i in inbox_ids])

    async def claim(self, consumer: str, *, count: int, block_ms: int) -> list[Job]:
        """New entries and entries idle too long at other consumers.

        The consumer group is made again when Redis lost it.
        """
        try:
            return await self._claim(consumer, count=count, block_ms=block_ms)
        except ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
        # Redis restarted without its data: the group (and every entry) is gone. Entries
        # lost this way are pending inbox rows, which the recovery sweep queues again.
        await self.start()
        return await self._claim(consumer, count=count, block_ms=block_ms)

    async def _claim(self, consumer: str, *, count: int, block_ms: int) -> list[Job]:
        if consumer not in self._own_pending_done:
            # After a restart under the same consumer name, first finish what we held.
            self._own_pending_done.add(consumer)
            own = await self.redis.xreadgroup(self.GROUP, consumer, {self.stream: "0"}, count=count)
            jobs = self._jobs(own)
            if jobs:
                return jobs
        now = time.monotonic()
        if now - self._last_reclaim.get(consumer, 0.0) >= self.reclaim_every_s:
            self._last_reclaim[consumer] = now
            reclaimed = await self._reclaim(consumer, count)
            if reclaimed:
                return reclaimed
        fresh = await self.redis.xreadgroup(
            self.GROUP, consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return self._jobs(fresh)

    async def _reclaim(self, consumer: str, count: int) -> list[Job]:
        result = await self.redis.xautoclaim(
            self.stream,
            self.GROUP,
            consumer,
            min_idle_time=self.reclaim_idle_ms,
            start_id="0-0",
            count=count,
        )
        entries = result[1] if len(result) > 1 else []
        return [
            Job(int(fields[b"inbox_id"] if b"inbox_id" in fields else fields["inbox_id"]), _s(eid))
            for eid, fields in entries
            if fields
        ]

    @staticmethod
    def _jobs(response: object) -> list[Job]:
        jobs: list[Job] = []
        for _stream, entries in response or []:  # type: ignore[attr-defined]
            for eid, fields in entries:
                if not fields:
                    continue
                raw = fields.get(b"inbox_id", fields.get("inbox_id"))
                jobs.append(Job(int(raw), _s(eid)))
        return jobs

    async def ack(self, jobs: Sequence[Job]) -> None:
        """Acknowledge and delete these entries."""
        if not jobs:
            return
        tokens = [j.token for j in jobs]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, self.GROUP, *tokens)
            pipe.xdel(self.stream, *tokens)
            await pipe.execute()

    async def depth(self) -> int:
        """Entries not yet acknowledged (acknowledged ones are deleted): the backlog."""
        return int(await self.redis.xlen(self.stream))

    async def aclose(self) -> None:
        """Nothing to release: the Redis client is the container's."""


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
