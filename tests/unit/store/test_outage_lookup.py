"""Whether a service has an outage: asked once per transaction while nothing can change it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, update

from store.db import SessionFactory
from store.enums import Status, TicketKind
from store.models import AlertIncident, Service, Ticket
from store.types import utcnow
from store.uow import UnitOfWork


def _lookups(factory: SessionFactory) -> list[str]:
    seen: list[str] = []

    @event.listens_for(factory.kw["bind"].sync_engine, "before_cursor_execute")
    def _seen(_c: Any, _cur: Any, sql: str, *_a: Any) -> None:
        # The look-up's column query, not the load of a row it found.
        if " ".join(sql.split()).startswith("SELECT alert_incidents.id FROM"):
            seen.append(sql)

    return seen


async def _setup(factory: SessionFactory) -> tuple[int, int, int]:
    """A service, a person and a resolved outage ticket on it: ids."""
    async with UnitOfWork(factory) as uow:
        vpn = Service(name="VPN")
        uow.session.add(vpn)
        await uow.session.flush()
        ann = await uow.people.create(name="Ann", email="ann@example.com")
        outage = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="VPN alert", requester=ann, service_id=vpn.id
        )
        outage.status = Status.RESOLVED
        await uow.commit()
        return vpn.id, ann.id, outage.id


async def test_no_outage_is_asked_once_until_an_alert_incident_is_written(
    factory: SessionFactory,
) -> None:
    vpn, _, outage = await _setup(factory)
    seen = _lookups(factory)
    since = utcnow() - timedelta(hours=1)
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.open_for_service([vpn], since) is None
        assert await uow.alerts.open_for_service([vpn], since + timedelta(seconds=1)) is None
        assert len(seen) == 1
        # An earlier `since` could find more: asked again.
        assert await uow.alerts.open_for_service([vpn], since - timedelta(hours=1)) is None
        assert len(seen) == 2
        ticket = await uow.tickets.get(outage)
        assert ticket is not None
        ticket.status = Status.IN_PROGRESS  # the outage reopened, not yet flushed
        uow.session.add(AlertIncident(fingerprint="vpn-down", ticket_id=outage, service_id=vpn))
        found = await uow.alerts.open_for_service([vpn], since)
        assert found is not None
        assert found.ticket_id == outage
        await uow.commit()
    assert len(seen) == 3
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.open_for_service([vpn], since) is not None


async def _alerted(factory: SessionFactory) -> tuple[int, int]:
    """`_setup`, with an alert incident on the resolved outage: the service's and ticket's ids."""
    vpn, _, outage = await _setup(factory)
    async with UnitOfWork(factory) as uow:
        uow.session.add(AlertIncident(fingerprint="vpn-down", ticket_id=outage, service_id=vpn))
        await uow.commit()
    return vpn, outage


async def test_a_ticket_status_changed_by_a_statement_is_asked_about_again(
    factory: SessionFactory,
) -> None:
    vpn, outage = await _alerted(factory)
    since = utcnow() - timedelta(hours=1)
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.open_for_service([vpn], since) is None, "its ticket is resolved"
        await uow.session.execute(
            update(Ticket).where(Ticket.id == outage).values(status=Status.IN_PROGRESS)
        )
        found = await uow.alerts.open_for_service([vpn], since)
        assert found is not None
        assert found.ticket_id == outage


async def test_a_ticket_reopened_in_the_transaction_is_asked_about_again(
    factory: SessionFactory,
) -> None:
    vpn, outage = await _alerted(factory)
    since = utcnow() - timedelta(hours=1)
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.open_for_service([vpn], since) is None, "its ticket is resolved"
        ticket = await uow.tickets.get(outage)
        assert ticket is not None
        ticket.status = Status.IN_PROGRESS  # not flushed: only the session knows
        found = await uow.alerts.open_for_service([vpn], since)
        assert found is not None
        assert found.ticket_id == outage


async def test_an_alert_incident_added_in_the_transaction_is_found(
    factory: SessionFactory,
) -> None:
    vpn, _, outage = await _setup(factory)
    async with UnitOfWork(factory) as uow:
        ticket = await uow.tickets.get(outage)
        assert ticket is not None
        ticket.status = Status.IN_PROGRESS
        await uow.commit()
    since = utcnow() - timedelta(hours=1)
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.open_for_service([vpn], since) is None, "no alert incident yet"
        uow.session.add(AlertIncident(fingerprint="vpn-down", ticket_id=outage, service_id=vpn))
        found = await uow.alerts.open_for_service([vpn], since)
        assert found is not None
        assert found.ticket_id == outage
