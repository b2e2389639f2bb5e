"""The console's change calendar and major-incident board over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from store.db import create_engine, session_factory
from store.enums import ChangeType, Priority, Status, TicketKind
from store.models import TicketLink
from store.uow import UnitOfWork
from tests.e2e.test_console_pages import HTML, sign_in

MONDAY = datetime(2027, 3, 1, tzinfo=UTC)


async def _desk(settings: Settings) -> None:
    """Two overlapping changes on Email, one later elsewhere; a major VPN outage with a report."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            dan = await uow.people.by_email("dan@example.com")
            erin = await uow.people.by_email("erin@example.com")
            email = await uow.cmdb.by_name("Email")
            vpn = await uow.cmdb.by_name("VPN")
            assert alice is not None
            assert dan is not None
            assert erin is not None
            assert email is not None
            assert vpn is not None
            for title, start, hours, service in (
                ("Patch the mail relay", MONDAY + timedelta(hours=20), 2, email.id),
                ("Move mailboxes", MONDAY + timedelta(hours=21), 2, email.id),
                ("Upgrade VPN gateways", MONDAY + timedelta(days=9), 1, vpn.id),
            ):
                await uow.tickets.create(
                    kind=TicketKind.CHANGE,
                    title=title,
                    requester=alice,
                    status=Status.APPROVED,
                    change_type=ChangeType.NORMAL,
                    service_id=service,
                    planned_start=start,
                    planned_end=start + timedelta(hours=hours),
                )
            outage = await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="VPN down for everyone",
                requester=alice,
                priority=Priority.P1,
                service_id=vpn.id,
            )
            report = await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="cannot connect from home",
                requester=dan,
                origin={"channel": "webchat", "conversation": "w-dan", "user": "w-dan"},
            )
            uow.session.add(TicketLink(ticket_id=report.id, linked_id=outage.id))
            major = await uow.major_incidents.declare(
                outage, by_id=erin.id, lead_id=erin.id, at=datetime.now(UTC)
            )
            major.last_update = "Failover started, next update 14:30"
            await uow.commit()
    finally:
        await engine.dispose()


def test_the_change_calendar_and_the_major_incident_board(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        client.portal.call(_desk, demo_settings)  # type: ignore[union-attr]
        sign_in(client, demo_settings, "bob@example.com")

        page = client.get("/console/changes?from=2027-03-01&weeks=1", headers=HTML)
        assert page.status_code == 200
        text = page.text
        assert "CHG-1" in text
        assert "CHG-2" in text
        assert "CHG-3" not in text  # nine days later, outside one week
        assert '<tr class="clash" data-ref="CHG-1">' in text
        assert '<tr class="clash" data-ref="CHG-2">' in text
        assert "2027-03-01" in text
        assert "CHG-3" in client.get("/console/changes?from=2027-03-01&weeks=2").text

        assert client.get("/console/changes?from=yesterday").status_code == 400
        assert client.get("/console/changes?weeks=99").status_code == 400

        board = client.get("/console/majors", headers=HTML)
        assert board.status_code == 200
        assert 'data-ref="INC-1"' in board.text
        assert "Erin Agent" in board.text
        assert "Failover started, next update 14:30" in board.text
        assert "INC-2" in board.text
        assert "cannot connect from home" in board.text

        # Per ticket: the mood of the words the report opened with.
        assert 'id="mood"' in client.get("/console/tickets/INC-2", headers=HTML).text
        assert 'id="mood"' not in client.get("/console/tickets/CHG-1", headers=HTML).text

        # Chinese for a person who asks for it.
        zh = client.get("/console/majors", headers={**HTML, "Accept-Language": "zh-CN"})
        assert "重大事件" in zh.text

        sign_in(client, demo_settings, "alice@example.com")
        assert client.get("/console/majors", headers=HTML).status_code == 403
        assert client.get("/console/changes", headers=HTML).status_code == 403
