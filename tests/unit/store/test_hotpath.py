"""The per-message writes done with Core statements behave as the ORM's did."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from store import hotpath
from store.db import SessionFactory
from store.enums import PersonKind, Role, Status, TicketKind
from store.errors import ConflictError
from store.models import ChannelIdentity, Person, PersonRole, Ticket, TicketEvent
from store.uow import UnitOfWork


async def _requester(factory: SessionFactory) -> int:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.create(name="Ann", email="ann@example.com")
        await uow.commit()
        return person.id


async def test_new_ticket_is_loaded_and_later_changes_are_versioned(
    factory: SessionFactory,
) -> None:
    person_id = await _requester(factory)
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        ticket = await uow.tickets.create(kind=TicketKind.INCIDENT, title="VPN", requester=person)
        second = await uow.tickets.create(kind=TicketKind.INCIDENT, title="Mail", requester=person)
        assert (ticket.ref, second.ref) == ("INC-1", "INC-2")
        assert ticket.status is Status.NEW
        assert ticket.version == 1
        assert ticket.requester is person
        assert ticket.created_at is not None
        ticket.status = Status.IN_PROGRESS
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        stored = await uow.tickets.by_ref("INC-1")
        assert stored is not None
        assert (stored.status, stored.version) == (Status.IN_PROGRESS, 2)


async def test_unknown_ticket_field_is_refused(factory: SessionFactory) -> None:
    person_id = await _requester(factory)
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        with pytest.raises(TypeError, match="no column"):
            await uow.tickets.create(
                kind=TicketKind.INCIDENT, title="x", requester=person, colour="red"
            )


async def test_events_are_written_at_the_next_query_with_their_last_values(
    factory: SessionFactory,
) -> None:
    person_id = await _requester(factory)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        ticket = await uow.tickets.create(kind=TicketKind.INCIDENT, title="VPN", requester=person)
        first = uow.tickets.log(ticket, "created", actor=person, channel="webchat")
        second = uow.tickets.log(ticket, "noted", actor=None, text="hi")
        second.at = at
        assert first.id is None
        events = await uow.tickets.events(ticket.id)
        assert [e.action for e in events] == ["created", "noted"]
        assert first.id is not None
        assert second.id == first.id + 1
        assert events[1].at == at
        assert events[1].detail == {"text": "hi"}
        await uow.commit()


async def test_events_queued_last_are_written_by_the_commit(factory: SessionFactory) -> None:
    person_id = await _requester(factory)
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        ticket = await uow.tickets.create(kind=TicketKind.INCIDENT, title="VPN", requester=person)
        uow.tickets.log(ticket, "created", actor=person)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        count = await uow.session.scalar(select(func.count(TicketEvent.id)))
        assert count == 1


async def test_a_rollback_forgets_queued_events(factory: SessionFactory) -> None:
    person_id = await _requester(factory)
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        ticket = await uow.tickets.create(kind=TicketKind.INCIDENT, title="VPN", requester=person)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        stored = await uow.tickets.get(ticket.id)
        assert stored is not None
        uow.tickets.log(stored, "noted", actor=None)
        await uow.rollback()
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.tickets.events(ticket.id) == []


async def test_new_contact_with_identity_is_found_again(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.create(
            name="Visitor", kind=PersonKind.CONTACT, roles=[Role.REQUESTER, Role.REQUESTER]
        )
        assert person.role_set == {Role.REQUESTER}
        assert person.identities == []
        await uow.people.bind_identity(person, "webchat", "v1", address={"channel": "webchat"})
        found = await uow.people.identity("webchat", "v1", with_person=True)
        assert found is not None
        assert found.person is person
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        found = await uow.people.identity("webchat", "v1", with_person=True)
        assert found is not None
        assert found.person.kind is PersonKind.CONTACT
        assert found.person.role_set == {Role.REQUESTER}
        assert found.last_address == {"channel": "webchat"}
        assert found.last_seen_at is not None


async def test_binding_a_bound_identity_is_a_conflict(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        first = await uow.people.create(name="One")
        await uow.people.bind_identity(first, "slack", "U1")
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        second = await uow.people.create(name="Two")
        with pytest.raises(ConflictError):
            await uow.people.bind_identity(second, "slack", "U1")
    async with UnitOfWork(factory) as uow:
        rows = (await uow.session.scalars(select(ChannelIdentity))).all()
        assert [(r.external_id, r.person_id) for r in rows] == [("U1", first.id)]
        names = (await uow.session.scalars(select(Person.name))).all()
        assert names == ["One"]


async def test_an_unbound_identity_is_not_served_from_the_unit_of_work(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.create(name="One")
        await uow.people.bind_identity(person, "slack", "U1")
        assert await uow.people.identity("slack", "U1") is not None
        assert await uow.people.unbind_identity("slack", "U1")
        assert await uow.people.identity("slack", "U1") is None


async def test_dialogue_state_upsert_prefetch_and_clear(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        await uow.dialogue.set("a", {"slot": 1}, 60)
        await uow.dialogue.set("a", {"slot": 2}, 60)
        await uow.dialogue.set("old", {"slot": 3}, -1)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        await uow.dialogue.prefetch(["a", "old", "none"])
        assert await uow.dialogue.get("a") == {"slot": 2}
        assert await uow.dialogue.get("old") is None
        assert await uow.dialogue.get("none") is None
        await uow.dialogue.clear("a")
        assert await uow.dialogue.get("a") is None
        assert await uow.dialogue.purge_expired() == 1
        await uow.commit()


async def test_ticket_numbers_stay_unique_per_kind(factory: SessionFactory) -> None:
    person_id = await _requester(factory)
    for _ in range(3):
        async with UnitOfWork(factory) as uow:
            person = await uow.people.get(person_id)
            assert person is not None
            await uow.tickets.create(kind=TicketKind.INCIDENT, title="x", requester=person)
            await uow.tickets.create(kind=TicketKind.REQUEST, title="y", requester=person)
            await uow.commit()
    async with UnitOfWork(factory) as uow:
        refs = (await uow.session.scalars(select(Ticket.ref).order_by(Ticket.id))).all()
    assert sorted(refs) == sorted({*refs})
    assert len(refs) == 6
    assert {r.split("-")[0] for r in refs} == {"INC", "REQ"}


async def test_a_ticket_carries_the_number_and_reference_it_was_stored_with(
    factory: SessionFactory,
) -> None:
    person_id = await _requester(factory)
    statements: list[str] = []
    engine = factory.kw["bind"]

    def seen(_c: object, _cur: object, sql: str, *_a: object) -> None:
        statements.append(sql)

    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        made = [
            await uow.tickets.create(kind=TicketKind.INCIDENT, title=f"t{i}", requester=person)
            for i in range(3)
        ]
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        stored = (await uow.session.execute(select(Ticket.id, Ticket.number, Ticket.ref))).all()
    assert sorted((t.id, t.number, t.ref) for t in made) == sorted(tuple(r) for r in stored)
    assert all(t.ref == f"INC-{t.number}" for t in made)
    assert len({t.number for t in made}) == 3
    if engine.dialect.name == "postgresql":
        # The number comes from the sequence inside the INSERT: one statement a ticket.
        assert len(statements) == 3
    else:
        # The counter is bumped for the first ticket only; the others count on from it.
        assert sum("ticket_counters" in s for s in statements) == 1


async def test_numbers_drawn_in_one_transaction_reach_the_counter_at_commit(
    factory: SessionFactory,
) -> None:
    person_id = await _requester(factory)
    for _ in range(2):
        async with UnitOfWork(factory) as uow:
            person = await uow.people.get(person_id)
            assert person is not None
            for i in range(4):
                await uow.tickets.create(kind=TicketKind.INCIDENT, title=f"t{i}", requester=person)
            await uow.tickets.create(kind=TicketKind.REQUEST, title="r", requester=person)
            await uow.commit()
    async with UnitOfWork(factory) as uow:
        refs = set((await uow.session.scalars(select(Ticket.ref))).all())
    assert refs == {f"INC-{n}" for n in range(1, 9)} | {"REQ-1", "REQ-2"}


async def test_numbers_of_a_rolled_back_transaction_are_handed_out_again_on_sqlite(
    factory: SessionFactory,
) -> None:
    person_id = await _requester(factory)
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        for i in range(3):
            await uow.tickets.create(kind=TicketKind.INCIDENT, title=f"t{i}", requester=person)
        await uow.rollback()
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        made = [
            await uow.tickets.create(kind=TicketKind.INCIDENT, title=f"u{i}", requester=person)
            for i in range(2)
        ]
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        last = await uow.tickets.create(kind=TicketKind.INCIDENT, title="v", requester=person)
        await uow.commit()
    numbers = [t.number for t in [*made, last]]
    assert len(set(numbers)) == 3
    if factory.kw["bind"].dialect.name == "sqlite":
        assert numbers == [1, 2, 3]


def _inserts(factory: SessionFactory, table: str) -> list[str]:
    return _statements(factory, lambda sql: f"INSERT INTO {table} " in sql)


async def test_a_query_declaring_other_tables_leaves_queued_rows_queued(
    factory: SessionFactory,
) -> None:
    person_id = await _requester(factory)
    seen = _inserts(factory, "ticket_events")
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        ticket = await uow.tickets.create(kind=TicketKind.INCIDENT, title="VPN", requester=person)
        first = uow.tickets.log(ticket, "created", actor=person)
        await uow.people.last_contact(person_id)  # reads channel identities only
        assert (first.id, seen) == (None, [])
        second = uow.tickets.log(ticket, "noted", actor=None)
        # A query that declares nothing may read anything: the queued rows go in first.
        assert await uow.people.by_email("nobody@example.com") is None
        assert first.id is not None
        assert second.id == first.id + 1
        assert len(seen) == 1
        third = uow.tickets.log(ticket, "noted again", actor=None)
        # Reading the queued rows' table: they go in first.
        found = await uow.tickets.events(ticket.id)
        assert [e.action for e in found] == ["created", "noted", "noted again"]
        assert third.id is not None
        await uow.commit()
    assert len(seen) == 2


async def test_new_contacts_roles_go_in_together(factory: SessionFactory) -> None:
    seen = _inserts(factory, "person_roles")
    async with UnitOfWork(factory) as uow:
        made = [
            await uow.people.create(name=f"Visitor {i}", kind=PersonKind.CONTACT) for i in range(3)
        ]
        await uow.people.bind_identity(made[0], "webchat", "v1", address={"channel": "webchat"})
        assert seen == [], "binding an identity does not read roles"
        assert all(p.role_set == {Role.REQUESTER} for p in made)
        await uow.commit()
    assert len(seen) == 1
    async with UnitOfWork(factory) as uow:
        for p in made:
            stored = await uow.people.get(p.id)
            assert stored is not None
            assert stored.role_set == {Role.REQUESTER}


async def test_queued_roles_are_written_before_a_query_reading_them(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        visitor = await uow.people.create(name="Visitor", kind=PersonKind.CONTACT)
        assert [p.id for p in await uow.people.with_role(Role.REQUESTER)] == [visitor.id]
        await uow.rollback()
    async with UnitOfWork(factory) as uow:
        assert await uow.people.with_role(Role.REQUESTER) == []


async def test_roles_of_a_new_person_can_be_replaced_in_the_same_unit_of_work(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.create(name="Ann", email="ann@example.com")
        # The queued role rows must be there before the ORM deletes the one replaced.
        person.roles = [PersonRole(role=Role.AGENT)]
        await uow.session.flush()
        other = await uow.people.create(name="Bo", email="bo@example.com")
        await uow.people.set_profile(
            other, name="Bo Agent", roles=[Role.AGENT], groups=[], skills=[]
        )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        for made in (person, other):
            stored = await uow.people.get(made.id)
            assert stored is not None
            assert stored.role_set == {Role.AGENT}


async def test_a_batchs_identities_come_with_their_people_and_roles(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        ann = await uow.people.create(name="Ann", roles=[Role.REQUESTER, Role.AGENT])
        bo = await uow.people.create(name="Bo", roles=[])
        for external_id in ("U1", "U2"):
            await uow.people.bind_identity(ann, "slack", external_id, address={"team": "T1"})
        await uow.people.bind_identity(bo, "slack", "U3")
        await uow.people.bind_identity(bo, "webchat", "v1")
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        keys = [("slack", "U1"), ("slack", "U2"), ("slack", "U3"), ("webchat", "v1")]
        await uow.people.prefetch_identities([*keys, ("slack", "nobody")])
        statements = _statements(factory)
        found = [await uow.people.identity(p, e, with_person=True) for p, e in keys]
        assert await uow.people.identity("slack", "nobody", with_person=True) is None
        assert statements == [], "the batch's one query answered every look-up"
        assert await uow.people.identity("slack", "nobody", with_person=True) is None
        assert len(statements) == 1, "a missing identity is asked again the next time"
        first, second, third, fourth = found
        assert first is not None
        assert second is not None
        assert third is not None
        assert fourth is not None
        assert first.person is second.person, "one person, one object"
        assert first.person.role_set == {Role.REQUESTER, Role.AGENT}
        assert first.last_address == {"team": "T1"}
        assert third.person is fourth.person
        assert third.person.roles == []
        assert await uow.people.get(bo.id) is third.person, "in the session's identity map"
        # Later changes to what the batch read are versioned writes as after any load.
        third.person.name = "Bo B."
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        stored = await uow.people.get(bo.id)
        assert stored is not None
        assert stored.name == "Bo B."


async def test_a_batch_leaves_what_the_session_holds_and_changed_as_it_is(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        ann = await uow.people.create(name="Ann", email="ann@example.com")
        await uow.people.bind_identity(ann, "slack", "U1")
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        held = await uow.people.get(ann.id)
        assert held is not None
        held.name = "Ann (unsaved)"
        uow.session.expire(held, ["email"])
        await uow.people.prefetch_identities([("slack", "U1")])
        found = await uow.people.identity("slack", "U1", with_person=True)
        assert found is not None
        assert found.person is held
        assert held.name == "Ann (unsaved)", "a pending change is not overwritten"
        # Read without a query: a lazy load here would fail outside the greenlet.
        assert held.email == "ann@example.com", "an expired column is filled from the row read"


def _not_transaction_control(sql: str) -> bool:
    return not sql.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))


def _statements(
    factory: SessionFactory, wanted: Callable[[str], bool] = _not_transaction_control
) -> list[str]:
    """Filled with the statements `wanted` keeps, as they run."""
    seen: list[str] = []

    @event.listens_for(factory.kw["bind"].sync_engine, "before_cursor_execute")
    def _seen(_c: object, _cur: object, sql: str, *_a: object) -> None:
        if wanted(sql):
            seen.append(sql)

    return seen


async def test_a_row_made_an_object_loads_what_it_was_not_given(factory: SessionFactory) -> None:
    ann = await _requester(factory)
    async with UnitOfWork(factory) as uow:
        person = hotpath.loaded(uow.session, Person, {"id": ann, "name": "Ann"})
        assert person.name == "Ann"
        assert await uow.session.get(Person, ann) is person, "persistent in the session"
        # Not given: loaded from the row on first use, as after a query that left it out.
        email = await uow.session.run_sync(lambda _s: person.email)
        assert email == "ann@example.com"
        again = hotpath.loaded(uow.session, Person, {"id": ann, "name": "Ann", "language": "zh"})
        assert again is person
