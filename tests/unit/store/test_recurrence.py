"""Recurrence candidates: the database leaves out incidents linked or offered already."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from store.db import SessionFactory
from store.enums import Status, TicketKind
from store.models import Service
from store.types import utcnow
from store.uow import UnitOfWork


async def test_candidates_leave_out_linked_and_offered_incidents(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.create(name="Alice", email="alice@example.com")
        vpn, mail = Service(name="VPN"), Service(name="Mail")
        uow.session.add_all([vpn, mail])
        await uow.session.flush()
        made = [
            await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title=f"VPN down {i}",
                requester=alice,
                service_id=vpn.id,
                description="no tunnel",
            )
            for i in range(5)
        ]
        other = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="Mail slow", requester=alice, service_id=mail.id
        )
        problem = await uow.tickets.create(kind=TicketKind.PROBLEM, title="VPN", requester=alice)
        await uow.session.flush()
        await uow.problems.link(problem, made[0])
        await uow.problems.offer(
            "vpn:2,3", service_id=vpn.id, group_id=None, incident_ids=[made[2].id, made[3].id]
        )
        # An offer on another service names none of VPN's candidates.
        await uow.problems.offer(
            "mail", service_id=mail.id, group_id=None, incident_ids=[made[1].id]
        )
        since = utcnow() - timedelta(hours=24)
        found = await uow.problems.recurrence_candidates(vpn.id, since)
        assert [(i, title, text) for i, _, title, text, _ in found] == [
            (made[1].id, "VPN down 1", "no tunnel"),
            (made[4].id, "VPN down 4", "no tunnel"),
        ]
        assert [i for i, *_ in await uow.problems.recurrence_candidates(mail.id, since)] == [
            other.id
        ]


async def test_a_window_read_once_follows_what_its_unit_of_work_does(
    factory: SessionFactory,
) -> None:
    seen: list[str] = []
    engine = factory.kw["bind"].sync_engine

    def statement(_c: object, _cur: object, sql: str, *_a: object) -> None:
        seen.append(sql)

    async with UnitOfWork(factory) as uow:
        alice = await uow.people.create(name="Alice", email="alice@example.com")
        vpn, mail = Service(name="VPN"), Service(name="Mail")
        uow.session.add_all([vpn, mail])
        await uow.session.flush()

        async def incident(title: str, service: Service) -> int:
            made = await uow.tickets.create(
                kind=TicketKind.INCIDENT, title=title, requester=alice, service_id=service.id
            )
            return made.id

        first = await incident("VPN down 0", vpn)
        since = utcnow() - timedelta(hours=24)
        event.listen(engine, "before_cursor_execute", statement)
        try:
            assert [i for i, *_ in await uow.problems.recurrence_candidates(vpn.id, since)] == [
                first
            ]
            second = await incident("VPN down 1", vpn)
            third = await incident("VPN down 2", vpn)
            await incident("Mail slow", mail)
            problem = await uow.tickets.create(
                kind=TicketKind.PROBLEM, title="VPN", requester=alice, service_id=vpn.id
            )
            await uow.problems.link(problem, await uow.tickets.get(second) or problem)
            fourth = await incident("VPN down 3", vpn)
            found = await uow.problems.recurrence_candidates(vpn.id, since)
            assert [(i, title) for i, _, title, _, _ in found] == [
                (first, "VPN down 0"),
                (third, "VPN down 2"),
                (fourth, "VPN down 3"),
            ]
            await uow.problems.offer(
                "vpn", service_id=vpn.id, group_id=None, incident_ids=[first, third]
            )
            found = await uow.problems.recurrence_candidates(vpn.id, since)
            assert [i for i, *_ in found] == [fourth]
            window = [s for s in seen if "NOT IN" in s and "problem_incidents" in s]
            assert len(window) == 1, "followed, not read again"
            # The status of an incident it holds is read from the incident itself.
            done = await uow.tickets.get(fourth)
            assert done is not None
            done.status = Status.RESOLVED
            assert await uow.problems.recurrence_candidates(vpn.id, since) == []
            done.status = Status.NEW
            assert [i for i, *_ in await uow.problems.recurrence_candidates(vpn.id, since)] == [
                fourth
            ]
            assert len([s for s in seen if "NOT IN" in s and "problem_incidents" in s]) == 1
            # A move the window cannot follow: it is read again, and agrees.
            done.service_id = mail.id
            assert await uow.problems.recurrence_candidates(vpn.id, since) == []
            assert len([s for s in seen if "NOT IN" in s and "problem_incidents" in s]) == 2
            # Another service's window is its own.
            in_db = await uow.problems.recurrence_candidates(mail.id, since)
            assert [title for _, _, title, _, _ in in_db] == ["Mail slow", "VPN down 3"]
        finally:
            event.remove(engine, "before_cursor_execute", statement)
