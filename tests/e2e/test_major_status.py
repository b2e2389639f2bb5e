"""A major incident on the portal's status page, and its end: everyone told, a review opened."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.config import Settings
from store.db import create_engine, session_factory
from store.enums import TicketKind
from store.models import OutboxMessage, Ticket
from store.uow import UnitOfWork
from tests.e2e.test_console_boards import _desk
from tests.e2e.test_console_pages import HTML, csrf, sign_in


async def _after(settings: Settings) -> tuple[list[tuple[str, str, int | None]], list[str]]:
    """Problem tickets (ref, title, assignee) and the texts queued about INC-2."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            problems = await uow.session.scalars(
                select(Ticket).where(Ticket.kind == TicketKind.PROBLEM)
            )
            found = [(t.ref, t.title, t.assignee_id) for t in problems]
            erin = await uow.people.by_email("erin@example.com")
            assert erin is not None
            texts = await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.ticket_ref == "INC-2")
            )
            return [
                (ref, title, 1 if assignee == erin.id else None) for ref, title, assignee in found
            ], [str(m.reply.get("text", "")) for m in texts]
    finally:
        await engine.dispose()


def test_status_page_then_resolution_opens_the_review(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        client.portal.call(_desk, demo_settings)  # type: ignore[union-attr]

        sign_in(client, demo_settings, "dan@example.com")  # a requester
        page = client.get("/portal/status", headers=HTML)
        assert page.status_code == 200
        assert 'class="status-entry ongoing" data-ref="INC-1"' in page.text
        assert "VPN · disrupted" in page.text
        assert "Failover started, next update 14:30" in page.text
        # Public-safe: no names, no internal words of the report.
        assert "Erin" not in page.text
        assert "cannot connect from home" not in page.text
        assert "1 major incident(s) in progress." in page.text

        sign_in(client, demo_settings, "bob@example.com")
        ticket = client.get("/console/tickets/INC-1", headers=HTML).text
        res = client.post(
            "/console/tickets/INC-1/resolve",
            data={"csrf_token": csrf(ticket), "text": "Failed over to the second gateway."},
            follow_redirects=False,
        )
        assert res.status_code == 303

        problems, told = client.portal.call(_after, demo_settings)  # type: ignore[union-attr]
        assert problems == [("PRB-1", "Post-incident review of INC-1: VPN down for everyone", 1)]
        assert any("The outage behind your INC-2 (INC-1) is over" in t for t in told)

        board = client.get("/console/majors", headers=HTML).text
        assert "(closed)" in board
        timeline = client.get("/console/tickets/INC-1", headers=HTML).text
        assert "PRB-1" in timeline

        sign_in(client, demo_settings, "dan@example.com")
        after = client.get("/portal/status", headers=HTML).text
        assert 'class="status-entry over" data-ref="INC-1"' in after
        assert "No major incident is in progress." in after
        zh = client.get("/portal/status", headers={**HTML, "Accept-Language": "zh"}).text
        assert "服务状态" in zh

        client.cookies.clear()
        res = client.get("/portal/status", headers=HTML, follow_redirects=False)
        assert res.status_code in (303, 401)


def test_resolving_a_major_incident_through_the_api_opens_the_review(
    demo_settings: Settings,
) -> None:
    from tests.e2e.test_api import token_for

    app = create_app(demo_settings)
    with TestClient(app) as client:
        client.portal.call(_desk, demo_settings)  # type: ignore[union-attr]
        bob = client.portal.call(token_for, demo_settings, "bob@example.com")  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {bob}"}
        seen = client.get("/api/tickets/INC-1", headers=auth)
        res = client.patch(
            "/api/tickets/INC-1",
            json={"status": "resolved", "note": "failed over"},
            headers={**auth, "If-Match": seen.headers["etag"]},
        )
        assert res.status_code == 200, res.text
        assert res.json()["version"] == seen.json()["version"] + 1  # one change, one version
        problems, told = client.portal.call(_after, demo_settings)  # type: ignore[union-attr]
        assert [ref for ref, _, _ in problems] == ["PRB-1"]
        assert any("is over" in t for t in told)
        # Closing it afterwards opens no second review.
        again = client.get("/api/tickets/INC-1", headers=auth)
        res = client.patch(
            "/api/tickets/INC-1",
            json={"status": "closed"},
            headers={**auth, "If-Match": again.headers["etag"]},
        )
        assert res.status_code in (200, 409), res.text
        problems, _ = client.portal.call(_after, demo_settings)  # type: ignore[union-attr]
        assert len(problems) == 1


async def _is_major(settings: Settings, ref: str) -> bool:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            ticket = await uow.tickets.by_ref(ref)
            assert ticket is not None
            return await uow.major_incidents.for_ticket(ticket.id) is not None
    finally:
        await engine.dispose()


def test_raising_an_incident_to_p1_through_the_api_opens_a_swarm(demo_settings: Settings) -> None:
    from tests.e2e.test_api import token_for

    app = create_app(demo_settings)
    with TestClient(app) as client:
        client.portal.call(_desk, demo_settings)  # type: ignore[union-attr]
        bob = client.portal.call(token_for, demo_settings, "bob@example.com")  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {bob}"}
        assert not client.portal.call(_is_major, demo_settings, "INC-2")  # type: ignore[union-attr]
        seen = client.get("/api/tickets/INC-2", headers=auth)
        res = client.patch(
            "/api/tickets/INC-2",
            json={"priority": "P1", "note": "the whole office is affected"},
            headers={**auth, "If-Match": seen.headers["etag"]},
        )
        assert res.status_code == 200, res.text
        assert client.portal.call(_is_major, demo_settings, "INC-2")  # type: ignore[union-attr]
