"""The runs of one worker batch read the desk configuration once between them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.config import Settings
from bot.handling import Understood, Written
from channels.conversation import Address, Identity, Message
from nlu.types import Understander
from store.inbox import InboxRepository
from store.models import Group, OutboxMessage, Ticket
from store.queue import Job
from store.uow import UnitOfWork
from tests.unit.bot.test_worker import _store, worker

CONFIG = {"groups", "service_levels", "services", "service_links", "cursors", "calendars"}
_FIRST_TABLE = re.compile(r"^(?:SELECT|WITH)\b.*?\bFROM (\w+)", re.I | re.S)


def report(conversation: str) -> Message:
    return Message(
        event_id=f"Ev-{conversation}",
        address=Address(channel="slack", workspace="T1", conversation=conversation, user="U0ANN"),
        sender=Identity(platform="slack", external_id="U0ANN"),
        text="The VPN is down and I cannot connect from home",
    )


class Runs:
    """The configuration reads of each run of a batch, in order, then those of the rest."""

    def __init__(self) -> None:
        self.reads: list[list[str]] = []
        self.failed: list[int] = []
        self.alone = False

    def statement(self, _c: Any, _cur: Any, sql: str, *_a: Any) -> None:
        m = _FIRST_TABLE.match(sql.strip())
        if self.reads and m and m.group(1) in CONFIG:
            self.reads[-1].append(m.group(1))


@pytest.fixture
def fail_second_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the second run's inbox update find its rows taken, as after a lost race."""
    calls: list[int] = []
    finish_many = InboxRepository.finish_many

    async def finishing(self: InboxRepository, intents: dict[int, str]) -> int:
        calls.append(len(intents))
        done = await finish_many(self, intents)
        return done - 1 if len(calls) == 2 else done

    monkeypatch.setattr(InboxRepository, "finish_many", finishing)
    return calls


async def _batch(settings: Settings, understander: Understander, n: int) -> Runs:
    runs = Runs()
    async with worker(settings, understander, per_transaction=2) as w:
        async with UnitOfWork(w.factory) as uow:
            assert await uow.desk.default_group() is not None
        ids = [await _store(w, report(f"D{c}")) for c in range(n)]
        many = w.handling._many

        async def recorded(items: list[Understood]) -> tuple[list[int], list[Written]]:
            runs.reads.append([])
            try:
                return await many(items)
            except Exception:
                runs.failed.append(len(runs.reads) - 1)
                raise

        alone = w.handling._conversation

        async def alone_recorded(
            items: list[Understood], *, locked: bool = False
        ) -> tuple[list[int], list[Written]]:
            if not runs.alone:
                runs.alone = True
                runs.reads.append([])
            return await alone(items, locked=locked)

        w.handling._many = recorded  # type: ignore[method-assign]
        w.handling._conversation = alone_recorded  # type: ignore[method-assign]
        engine = w.factory.kw["bind"].sync_engine
        event.listen(engine, "before_cursor_execute", runs.statement)
        try:
            await w.process([Job(i, f"{k}-0") for k, i in enumerate(ids)])
        finally:
            event.remove(engine, "before_cursor_execute", runs.statement)
        if not runs.alone:
            runs.reads.append([])
        async with UnitOfWork(w.factory) as uow:
            assert (await uow.inbox.counts()) == {"done": n}
            s = uow.session
            assert await s.scalar(select(func.count()).select_from(Ticket)) == n
            groups = set(await s.scalars(select(Ticket.group_id)))
            assert len(groups) == 1
            assert None not in groups
            assert await s.get(Group, groups.pop()) is not None
            replies = await s.scalar(select(func.count()).select_from(OutboxMessage))
            assert replies == n  # one reply each, none twice
    return runs


async def test_runs_after_the_first_read_no_configuration(
    demo_settings: Settings, understander: Understander
) -> None:
    runs = await _batch(demo_settings, understander, 6)
    *handled, _ = runs.reads
    assert len(handled) == 3
    assert {"groups", "service_levels", "services"} <= set(handled[0])
    assert handled[1:] == [[], []]


async def test_a_failed_run_does_not_poison_the_runs_after_it(
    demo_settings: Settings, understander: Understander, fail_second_run: list[int]
) -> None:
    runs = await _batch(demo_settings, understander, 8)
    *handled, alone = runs.reads
    assert runs.failed == [1]
    assert len(handled) == 4
    assert {"groups", "service_levels", "services"} <= set(handled[0])
    # The failed run's conversations went on their own, reading for themselves; the runs
    # after it still answered from what the first one committed.
    assert handled[2:] == [[], []]
    assert "groups" in alone
