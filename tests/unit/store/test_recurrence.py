"""Recurrence candidates: the database leaves out incidents linked or offered already."""

from __future__ import annotations

from datetime import timedelta

from store.db import SessionFactory
from store.enums import TicketKind
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
