"""The worker: NLU off the event loop, profiles outside transactions and locks."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.config import Settings
from bot.handling import Understood, Written, _next_run
from bot.router import IntentRouter
from bot.worker import Worker
from channels.conversation import Address, Identity, Message
from handlers.registry import load as load_handlers
from nlu.types import CatalogEntry, IntentName, Understander, Understanding
from store.db import create_engine, session_factory
from store.queue import InProcessQueue, Job
from store.state import LocalState
from store.uow import UnitOfWork


class GatedUnderstander:
    """Parses only once the event loop opens the gate: proves the loop was free meanwhile."""

    threshold = 0.5

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()

    def parse(self, text: str, *, now: datetime | None = None) -> Understanding:
        return self.parse_many([text])[0]

    def parse_many(
        self, texts: Sequence[str], *, now: datetime | None = None
    ) -> list[Understanding]:
        self.entered.set()
        if not self.gate.wait(timeout=5):
            raise AssertionError("the event loop was blocked while the NLU ran")
        return [Understanding(text=t, intent=IntentName.GREET, confidence=0.9) for t in texts]

    def set_services(self, entries: Iterable[CatalogEntry]) -> None:
        return None


@asynccontextmanager
async def worker(
    settings: Settings, understander: Understander, **kwargs: object
) -> AsyncIterator[Worker]:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    w = Worker(
        factory=session_factory(engine),
        queue=InProcessQueue(),
        state=LocalState(),
        understander=understander,
        router=IntentRouter(load_handlers()),
        topics=lambda _: [],
        **kwargs,  # type: ignore[arg-type]
    )
    try:
        yield w
    finally:
        await engine.dispose()


def slack_message(text: str) -> Message:
    return Message(
        event_id="Ev1",
        address=Address(channel="slack", workspace="T1", conversation="D0NEW", user="U0NEW"),
        sender=Identity(platform="slack", external_id="U0NEW"),
        text=text,
    )


async def test_the_nlu_runs_off_the_event_loop(settings: Settings) -> None:
    nlu = GatedUnderstander()
    async with worker(settings, nlu) as w:
        parsing = asyncio.create_task(w._understand([slack_message("hello")]))
        assert await asyncio.to_thread(nlu.entered.wait, 5)
        nlu.gate.set()  # only reachable while the parse runs if the loop is free
        [understood] = await parsing
    assert understood.intent is IntentName.GREET


async def test_profiles_are_asked_outside_transactions_and_locks(
    demo_settings: Settings, understander: Understander
) -> None:
    seen: list[str] = []

    class Directory:
        """A profile source that checks it is not called with a connection or lock held."""

        async def profile(self, identity: Identity) -> Identity:
            # Embedded SQLite has one connection: a transaction held by the caller would
            # make this wait for the pool until the timeout.
            async with UnitOfWork(w.factory) as uow:
                await asyncio.wait_for(uow.people.count(), timeout=5)
            key = slack_message("").address.key
            assert await w.state.try_lock_many([key]) == {key}
            await w.state.unlock_many([key])
            seen.append(identity.external_id)
            return Identity(
                platform="slack", external_id=identity.external_id, email="dan@example.com"
            )

    async with worker(demo_settings, understander, profiles={"slack": Directory()}) as w:
        await w.queue.put([await _store(w, slack_message("my laptop screen is broken"))])
        await w.process(await w.queue.claim(w.consumer, count=10, block_ms=100))
        async with UnitOfWork(w.factory) as uow:
            ident = await uow.people.identity("slack", "U0NEW", with_person=True)
            assert ident is not None
            assert ident.person.email == "dan@example.com"
            assert (await uow.inbox.counts()) == {"done": 1}
    assert seen == ["U0NEW"]


async def _store(w: Worker, event: Message) -> int:
    async with UnitOfWork(w.factory) as uow:
        inbox_id = await uow.inbox.insert(
            "slack", event.event_id, event.to_dict(), event.address.key
        )
        await uow.commit()
    assert inbox_id is not None
    return inbox_id


class FlakyLocks(LocalState):
    """Shared state whose Redis is away for the first few lock requests."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def try_lock_many(self, keys: Sequence[str], *, ttl_ms: int = 30_000) -> set[str]:
        if self.failures > 0:
            self.failures -= 1
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379")
        return await super().try_lock_many(keys, ttl_ms=ttl_ms)


async def test_an_outage_mid_batch_neither_stops_the_worker_nor_counts_more_attempts(
    demo_settings: Settings, understander: Understander
) -> None:
    async with worker(demo_settings, understander, max_deliveries=2) as w:
        w.state = FlakyLocks(failures=4)
        inbox_id = await _store(w, slack_message("the printer on floor 3 is broken"))
        await w.queue.put([inbox_id])
        stop = asyncio.Event()
        running = asyncio.create_task(w.run(stop))
        for _ in range(200):
            async with UnitOfWork(w.factory) as uow:
                row = await uow.inbox.get(inbox_id)
                assert row is not None
                if row.status != "pending":
                    break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, timeout=5)
    assert w.state.failures == 0
    assert (row.status, row.deliveries) == ("done", 1)


async def test_a_row_queued_twice_in_one_batch_is_handled_once(
    demo_settings: Settings, understander: Understander
) -> None:
    async with worker(demo_settings, understander) as w:
        inbox_id = await _store(w, slack_message("the printer on floor 3 is broken"))
        twice = [Job(inbox_id, "1-0"), Job(inbox_id, "2-0")]
        await w.process(twice)
        async with UnitOfWork(w.factory) as uow:
            replies = await uow.outbox.history("slack", slack_message("").address.key)
            row = await uow.inbox.get(inbox_id)
    assert row is not None
    assert (row.status, row.deliveries) == ("done", 1)
    assert len(replies) == 1


def chat(conversation: str, n: int, text: str) -> Message:
    return Message(
        event_id=f"Ev-{conversation}-{n}",
        address=Address(channel="slack", workspace="T1", conversation=conversation, user="U0ALICE"),
        sender=Identity(platform="slack", external_id="U0ALICE"),
        text=text,
    )


async def test_a_batch_goes_in_short_transactions_with_writes_of_others_between(
    demo_settings: Settings, understander: Understander
) -> None:
    order: list[str] = []
    async with worker(demo_settings, understander, per_transaction=3) as w:
        events = [chat(f"D{c}", n, f"hello ({c}.{n})") for n in range(2) for c in range(6)]
        ids = [await _store(w, e) for e in events]
        many = w.handling._many
        writer: list[asyncio.Task[int]] = []

        async def recorded(items: list[Understood]) -> tuple[list[int], list[Written]]:
            if not writer:
                # Another writer (an ack) asks for the connection while the batch runs.
                writer.append(asyncio.create_task(_store(w, chat("DACK", 0, "hi"))))
                writer[0].add_done_callback(lambda _: order.append("ack"))
            result = await many(items)
            order.append("batch")
            return result

        w.handling._many = recorded  # type: ignore[method-assign]
        await w.process([Job(i, f"{n}-0") for n, i in enumerate(ids)])
        await writer[0]
        async with UnitOfWork(w.factory) as uow:
            assert (await uow.inbox.counts()) == {"done": 12, "pending": 1}
            for c in range(6):
                replies = await uow.outbox.history("slack", events[c].address.key)
                assert len(replies) == 2  # one reply per message, in order, none twice
    # Six conversations of two events, three events a transaction: each one alone, and the
    # ack's insert went between them rather than after the last.
    assert order.count("batch") == 6
    assert order.index("ack") < len(order) - 1


async def test_a_long_conversation_goes_in_consecutive_short_transactions_in_order(
    demo_settings: Settings, understander: Understander
) -> None:
    sizes: list[int] = []
    async with worker(demo_settings, understander, per_transaction=3) as w:
        events = [chat("DLONG", n, f"hello ({n})") for n in range(8)]
        ids = [await _store(w, e) for e in events]
        many = w.handling._many

        async def recorded(items: list[Understood]) -> tuple[list[int], list[Written]]:
            sizes.append(len(items))
            # Each run carries the conversation's next events, oldest first.
            assert [c.inbox_id for c, _ in items] == sorted(c.inbox_id for c, _ in items)
            return await many(items)

        w.handling._many = recorded  # type: ignore[method-assign]
        await w.process([Job(i, f"{n}-0") for n, i in enumerate(ids)])
        async with UnitOfWork(w.factory) as uow:
            assert (await uow.inbox.counts()) == {"done": 8}
            replies = await uow.outbox.history("slack", events[0].address.key)
    # Eight events of one conversation, three a transaction: 3 + 3 together, and the last
    # two together too, never the whole conversation in one transaction.
    assert sizes == [3, 3, 2]
    assert len(replies) == 8


async def test_conversations_another_worker_let_go_meanwhile_still_go_in_runs(
    demo_settings: Settings, understander: Understander
) -> None:
    runs: list[list[str]] = []
    async with worker(demo_settings, understander, per_transaction=4) as w:
        events = [chat(f"D{c}", n, f"hello ({c}.{n})") for n in range(2) for c in range(4)]
        ids = [await _store(w, e) for e in events]
        busy = [events[c].address.key for c in (2, 3)]
        # Another worker holds two of the conversations when the batch begins, and lets
        # them go while this one handles the first two.
        assert await w.state.try_lock_many(busy) == set(busy)
        many, one = w.handling._many, w.handling.one
        alone: list[int] = []

        async def recorded(items: list[Understood]) -> tuple[list[int], list[Written]]:
            runs.append(sorted({c.event.address.conversation for c, _ in items}))
            if len(runs) == 1:
                await w.state.unlock_many(busy)
            return await many(items)

        async def single(claimed: Any, nlu: Understanding) -> list[Written]:
            alone.append(claimed.inbox_id)
            return await one(claimed, nlu)

        w.handling._many = recorded  # type: ignore[method-assign]
        w.handling.one = single  # type: ignore[method-assign]
        await w.process([Job(i, f"{n}-0") for n, i in enumerate(ids)])
        async with UnitOfWork(w.factory) as uow:
            assert (await uow.inbox.counts()) == {"done": 8}
            for c in range(4):
                replies = await uow.outbox.history("slack", events[c].address.key)
                assert len(replies) == 2
    assert runs == [["D0", "D1"], ["D2", "D3"]]
    assert alone == []


def _runs(
    keys: list[str], groups: dict[str, list[Understood]], size: int | None
) -> list[list[tuple[str, list[Understood]]]]:
    pending = deque((key, list(groups[key])) for key in keys)
    runs = []
    while pending:
        runs.append(_next_run(pending, size))
    return runs


def test_runs_cut_only_conversations_longer_than_a_run() -> None:
    def items(n: int) -> list[Understood]:
        return [object()] * n  # type: ignore[list-item]

    groups = {"a": items(2), "b": items(7), "c": items(1), "d": items(3)}
    runs = _runs(list(groups), groups, 3)
    shape = [[(key, len(part)) for key, part in run] for run in runs]
    assert shape == [[("a", 2)], [("b", 3)], [("b", 3)], [("b", 1), ("c", 1)], [("d", 3)]]
    assert _runs(list(groups), groups, None) == [list(groups.items())]


async def test_the_worker_takes_its_turn_before_each_transaction(
    demo_settings: Settings, understander: Understander
) -> None:
    order: list[str] = []

    async def give_way() -> bool:
        order.append("turn")
        return False

    async with worker(demo_settings, understander, per_transaction=2, give_way=give_way) as w:
        events = [chat("DTURN", n, f"hello ({n})") for n in range(5)]
        ids = [await _store(w, e) for e in events]
        many = w.handling._many

        async def recorded(items: list[Understood]) -> tuple[list[int], list[Written]]:
            order.append("batch")
            return await many(items)

        w.handling._many = recorded  # type: ignore[method-assign]
        await w.process([Job(i, f"{n}-0") for n, i in enumerate(ids)])
    # Two runs of two, then the last event, left to its own path, which takes a turn too:
    # no transaction begins without one.
    assert order == ["turn", "batch", "turn", "batch", "turn", "turn"]


async def test_transactions_are_short_while_webhooks_come_in_and_longer_when_quiet(
    demo_settings: Settings, understander: Understander, monkeypatch: pytest.MonkeyPatch
) -> None:
    acking = [True, True, False]

    async def give_way() -> bool:
        return acking.pop(0) if acking else False

    # No hold fits more than the fewest events: the runs while acking are the shortest.
    monkeypatch.setattr("bot.handling.SQLITE_HOLD_WHILE_ACKING", 0.0)
    async with worker(demo_settings, understander, give_way=give_way) as w:
        assert w.handling.per_transaction == 16  # SQLite
        sizes = await _run_sizes(w, "DQ", 22)
    assert sizes == [2, 2, 16, 2]


async def _run_sizes(w: Worker, prefix: str, count: int) -> list[int]:
    """Handle `count` one-message conversations in one batch: the sizes of its runs."""
    sizes: list[int] = []
    ids = [await _store(w, chat(f"{prefix}{n}", 0, f"hello ({n})")) for n in range(count)]
    many = w.handling._many

    async def recorded(items: list[Understood]) -> tuple[list[int], list[Written]]:
        sizes.append(len(items))
        return await many(items)

    w.handling._many = recorded  # type: ignore[method-assign]
    await w.process([Job(i, f"{n}-0") for n, i in enumerate(ids)])
    async with UnitOfWork(w.factory) as uow:
        assert (await uow.inbox.counts()) == {"done": count}
    return sizes


async def test_runs_while_acking_take_as_many_events_as_fit_the_hold(
    demo_settings: Settings, understander: Understander
) -> None:

    async def give_way() -> bool:
        return True  # webhooks keep coming in

    async with worker(demo_settings, understander, give_way=give_way) as w:
        # Runs lately took 2.5 ms an event: four fit the 10 ms hold.
        w.handling.event_seconds = 0.0025
        w.handling._took = lambda events, seconds: None  # type: ignore[method-assign]
        sizes = await _run_sizes(w, "DH", 10)
    assert sizes == [4, 4, 2]


async def test_the_run_size_follows_the_time_runs_take(
    demo_settings: Settings, understander: Understander
) -> None:
    async with worker(demo_settings, understander) as w:
        h = w.handling
        assert h._run_size(short=False) == 16
        assert h._run_size(short=True) == 2  # nothing measured yet: the fewest
        h._took(2, 0.004)  # 2 ms an event
        assert h.event_seconds == pytest.approx(0.002)
        assert h._run_size(short=True) == 5
        h._took(5, 0.005)  # 1 ms an event moves the estimate part of the way
        assert h.event_seconds == pytest.approx(0.002 + 0.3 * (0.001 - 0.002))
        assert h._run_size(short=True) == 5
        h._took(4, 0.4)  # a slow run: back to the fewest, never none
        assert h._run_size(short=True) == 2
        h.event_seconds = 1e-6
        assert h._run_size(short=True) == 16  # never more than a quiet run


class CountingDialogue:
    """Dialogue state kept in memory that counts its round trips, as Redis would make them."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def get(self, key: str) -> dict[str, Any] | None:
        self.calls.append("get")
        return self.states.get(key)

    async def set(self, key: str, data: dict[str, Any], ttl_seconds: int) -> None:
        self.calls.append("set")
        self.states[key] = data

    async def clear(self, key: str) -> None:
        self.calls.append("clear")
        self.states.pop(key, None)

    async def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        self.calls.append("get_many")
        return {k: self.states.get(k) for k in keys}

    async def save_many(
        self, states: Mapping[str, dict[str, Any] | None], ttl_seconds: int
    ) -> None:
        self.calls.append("save_many")
        for key, data in states.items():
            if data is None:
                self.states.pop(key, None)
            else:
                self.states[key] = data


async def test_a_batch_reads_and_writes_its_conversations_dialogue_in_one_call_each(
    demo_settings: Settings, understander: Understander
) -> None:
    dialogue = CountingDialogue()
    async with worker(demo_settings, understander, dialogue=dialogue) as w:
        # Unclear reports: each conversation is asked what was meant, and that is kept.
        events = [chat(f"D{c}", 0, "something is broken") for c in range(4)]
        ids = [await _store(w, e) for e in events]
        await w.process([Job(i, f"{n}-0") for n, i in enumerate(ids)])
        async with UnitOfWork(w.factory) as uow:
            assert (await uow.inbox.counts()) == {"done": 4}
    assert dialogue.calls == ["get_many", "save_many"]
    assert dialogue.states


class KickRecorder:
    def __init__(self) -> None:
        self.kicks: list[set[str]] = []

    def kick(
        self, outbox_ids: Sequence[int] = (), *, platforms: Iterable[str] | None = None
    ) -> None:
        self.kicks.append(set(platforms or ()))


async def test_a_web_chat_reply_leaves_with_the_commit_and_wakes_no_dispatcher(
    demo_settings: Settings, understander: Understander
) -> None:
    kicks = KickRecorder()
    async with worker(demo_settings, understander, dispatcher=kicks) as w:
        address = Address(channel="webchat", conversation="v_1", user="v_1")
        event = Message(
            event_id="v_1:1",
            address=address,
            sender=Identity(platform="webchat", external_id="v_1"),
            text="the printer on floor 3 is broken",
        )
        async with UnitOfWork(w.factory) as uow:
            inbox_id = await uow.inbox.insert(
                "webchat", event.event_id, event.to_dict(), address.key
            )
            await uow.commit()
        assert inbox_id is not None
        await w.process([Job(inbox_id, "1-0")])
        async with UnitOfWork(w.factory) as uow:
            replies = await uow.outbox.for_inbox(inbox_id)
    assert replies
    assert all(r.status == "sent" and r.sent_at is not None for r in replies)
    assert kicks.kicks == []
