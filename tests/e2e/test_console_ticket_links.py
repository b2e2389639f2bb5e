"""The console ticket page's CI and impact, linked tickets, and its link and supplier actions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from store.db import create_engine, session_factory
from store.enums import TicketKind
from store.models import Service, Supplier
from store.uow import UnitOfWork
from tests.e2e.test_console_pages import HTML, csrf, sign_in


async def _seed(settings: Settings) -> tuple[str, str]:
    """An incident on the mail relay (Email depends on it), a problem, and a supplier."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            email = await uow.cmdb.by_name("Email")
            assert alice is not None
            assert email is not None
            relay, _ = await uow.desk.upsert(Service, "mail-relay-9", type="server")
            await uow.desk.set_links(email, "depends_on", [relay])
            await uow.desk.upsert(Supplier, "RelayCo", contract="UC-9")
            inc = await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="Mail relay drops messages",
                requester=alice,
                service_id=relay.id,
            )
            prb = await uow.tickets.create(
                kind=TicketKind.PROBLEM, title="Relay queue fills up", requester=alice
            )
            await uow.commit()
            return inc.ref, prb.ref
    finally:
        await engine.dispose()


def test_link_and_hand_to_a_supplier_from_the_ticket_page(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        inc, prb = client.portal.call(_seed, demo_settings)  # type: ignore[union-attr]
        sign_in(client, demo_settings, "bob@example.com")
        page = client.get(f"/console/tickets/{inc}", headers=HTML)
        assert page.status_code == 200
        assert "mail-relay-9 (server," in page.text
        assert 'id="impact"' in page.text
        assert "Email (" in page.text
        assert "No linked tickets." in page.text
        token = csrf(page.text)

        # Bad input: a reference of the wrong shape, one that does not exist, the wrong kind.
        for to, code in (("nonsense", 400), ("PRB-999", 404), (inc, 400)):
            res = client.post(f"/console/tickets/{inc}/link", data={"csrf_token": token, "to": to})
            assert res.status_code == code, (to, res.text)
        res = client.post(
            f"/console/tickets/{inc}/link",
            data={"csrf_token": token, "to": prb.lower()},
            follow_redirects=False,
        )
        assert res.status_code == 303
        page = client.get(f"/console/tickets/{inc}", headers=HTML)
        assert f'<a href="/console/tickets/{prb}">{prb}</a>' in page.text
        # The problem's page shows the incident from the other side.
        other = client.get(f"/console/tickets/{prb}", headers=HTML)
        assert f'<a href="/console/tickets/{inc}">{inc}</a>' in other.text

        res = client.post(
            f"/console/tickets/{inc}/supplier",
            data={"csrf_token": token, "supplier": "NoSuchCo"},
        )
        assert res.status_code == 404
        res = client.post(
            f"/console/tickets/{inc}/supplier",
            data={"csrf_token": token, "supplier": "RelayCo", "text": "queue at 100%"},
            follow_redirects=False,
        )
        assert res.status_code == 303
        page = client.get(f"/console/tickets/{inc}", headers=HTML)
        assert 'id="handoff"' in page.text
        assert "RelayCo" in page.text
        assert "action-supplier" in page.text  # the hand-off is in the timeline

        # A requester may not use the console at all, let alone link.
        sign_in(client, demo_settings, "alice@example.com")
        res = client.post(f"/console/tickets/{inc}/link", data={"csrf_token": token, "to": prb})
        assert res.status_code in (401, 403)
