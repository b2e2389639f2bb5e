"""Whom a notice reaches: read once per unit of work, read again once it changes them."""

from __future__ import annotations

from sqlalchemy import event

from store.db import SessionFactory
from store.models import Group
from store.uow import UnitOfWork


def _watch() -> tuple[list[str], object]:
    seen: list[str] = []

    def statement(_c: object, _cur: object, sql: str, *_a: object) -> None:
        seen.append(" ".join(sql.split()))

    return seen, statement


async def test_a_persons_channels_are_read_once_until_they_change(
    factory: SessionFactory,
) -> None:
    engine = factory.kw["bind"].sync_engine
    seen, statement = _watch()
    async with UnitOfWork(factory) as uow:
        erin = await uow.people.create(name="Erin", email="erin@example.com")
        other = await uow.people.create(name="Visitor")
        event.listen(engine, "before_cursor_execute", statement)
        try:
            assert await uow.people.last_contact(erin.id) is None
            assert await uow.queues.identities(erin.id) == []
            reads = [s for s in seen if s.startswith("SELECT channel_identities.platform")]
            assert len(reads) == 1, "one statement answers both"
            # Someone else's new account leaves Erin's answers alone.
            await uow.people.bind_identity(
                other, "webchat", "v1", address={"channel": "webchat", "conversation": "v1"}
            )
            assert await uow.people.last_contact(erin.id) is None
            slack = {"channel": "slack", "conversation": "D1", "user": "U1"}
            ident = await uow.people.bind_identity(erin, "slack", "U1", address=slack)
            assert await uow.people.last_contact(erin.id) == (slack, ident.last_seen_at)
            unverified = await uow.people.bind_identity(erin, "telegram", "7", verified=False)
            assert [c.platform for c in await uow.queues.identities(erin.id)] == ["slack"]
            # A change not yet flushed counts as well.
            moved = {"channel": "slack", "conversation": "D2", "user": "U1"}
            ident.last_address = moved
            contact = await uow.people.last_contact(erin.id)
            assert contact is not None
            assert contact[0] == moved
            unverified.verified = True
            found = await uow.queues.identities(erin.id)
            assert [c.platform for c in found] == ["slack", "telegram"]
            reads = [s for s in seen if s.startswith("SELECT channel_identities.platform")]
            assert len(reads) == 5
        finally:
            event.remove(engine, "before_cursor_execute", statement)


async def test_a_groups_owners_are_read_once_until_they_change(factory: SessionFactory) -> None:
    engine = factory.kw["bind"].sync_engine
    seen, statement = _watch()
    async with UnitOfWork(factory) as uow:
        erin = await uow.people.create(name="Erin", email="erin@example.com")
        wei = await uow.people.create(name="Wei", email="wei@example.com")
        group = Group(name="network", description="", lead_id=erin.id)
        uow.session.add(group)
        await uow.session.flush()
        await uow.desk.add_member(group, wei)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        event.listen(engine, "before_cursor_execute", statement)
        try:
            assert await uow.problems.owners(group.id, erin.id) == [(erin.id, None), (wei.id, None)]
            assert await uow.problems.owners(group.id, erin.id) == [(erin.id, None), (wei.id, None)]
            assert (
                len([s for s in seen if s.startswith("SELECT people.id, people.language FROM")])
                == 1
            )
            person = await uow.people.get(wei.id)
            assert person is not None
            person.language = "zh"
            assert await uow.problems.owners(group.id, erin.id) == [(erin.id, None), (wei.id, "zh")]
            assert (
                len([s for s in seen if s.startswith("SELECT people.id, people.language FROM")])
                == 2
            )
            ann = await uow.people.create(name="Ann", email="ann@example.com")
            loaded = await uow.session.get(Group, group.id)
            assert loaded is not None
            await uow.desk.add_member(loaded, ann)
            found = await uow.problems.owners(group.id, erin.id)
            assert [i for i, _ in found] == [erin.id, wei.id, ann.id]
        finally:
            event.remove(engine, "before_cursor_execute", statement)
