"""The desk over REST: clocks that follow PATCH, SLA state, group queues, supplier hand-off.

The app runs whole (its watcher, its outbox dispatcher); tickets are opened through the
real incident handler, and supplier mail leaves through smtplib to a local SMTP server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from channels.conversation import Address
from handlers.context import HandlerContext
from handlers.incidents import report_incident
from nlu.types import Entity, IntentName, Understander, Understanding
from store.models import OutboxMessage, TicketEvent
from store.types import utcnow
from tests.e2e.test_api import token_for
from tests.e2e.test_sla_scenario import load_desk
from tests.e2e.test_slack import run
from tests.fakes.smtp import FakeSmtpServer

DESK = """
people:
  - {name: Alice Example, email: alice@example.com, identities: {slack: U0ALICE}}
  - {name: Bob Lead, email: bob@example.com, roles: [agent], identities: {telegram: 5550102}}
  - {name: Erin Agent, email: erin@example.com, roles: [agent]}
groups:
  - {name: service-desk, default: true}
  - {name: network, lead: bob@example.com, members: [erin@example.com, bob@example.com]}
slas:
  - {name: standard, applies_to: {kind: incident},
     targets: {P1: {response: 1h, resolve: 4h}, P3: {response: 4h, resolve: 3d}}}
suppliers:
  - {name: NetCo, contract: UC-7, services: [WAN],
     targets: {P1: {response: 30m, resolve: 6h}, P3: {response: 2h, resolve: 2d}},
     contact: {name: NetCo NOC, email: noc@netco.example}}
services:
  - {name: WAN, criticality: critical, owner_group: network}
  - {name: VPN, criticality: critical, owner_group: network, depends_on: [WAN]}
  - {name: Email, criticality: medium}
"""

PASSWORD = "s3cret-Smtp-pass"  # noqa: S105 (the test's own secret, looked for in the logs)


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def client(
    settings: Settings,
    tmp_path: Path,
    understander: Understander,
    smtp: FakeSmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    monkeypatch.setenv("SMTP_URL", smtp.url("desk", PASSWORD))
    monkeypatch.setenv("SMTP_FROM", "desk@example.com")
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load_desk(settings, desk))
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as c:
        yield c


def report(client: TestClient, text: str, service: str, urgency: str = "high") -> str:
    """Alice reports an incident on the console, through the incident handler."""

    async def go(uow: Any) -> str:
        alice = await uow.people.by_email("alice@example.com")
        ctx = HandlerContext(
            uow=uow,
            person=alice,
            address=Address(channel="console", conversation="alice", user="alice"),
            now=utcnow(),
            text=text,
        )
        entities = tuple(
            Entity(entity=k, value=v, start=0, end=len(v))
            for k, v in (("service", service), ("urgency", urgency))
        )
        nlu = Understanding(
            text=text, intent=IntentName.REPORT_INCIDENT, confidence=0.9, entities=entities
        )
        [reply] = await report_incident(nlu, ctx)
        await uow.commit()
        assert reply.ticket_ref
        return reply.ticket_ref

    return str(run(client, go))


def headers(client: TestClient, settings: Settings, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {asyncio.run(token_for(settings, email))}"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_patch_holds_resumes_and_retargets_the_clock(
    client: TestClient, settings: Settings
) -> None:
    ref = report(client, "VPN is down for everyone", "VPN")
    bob = headers(client, settings, "bob@example.com")

    seen = client.get(f"/api/tickets/{ref}", headers=bob).json()
    assert seen["priority"] == "P1"
    sla = seen["sla"]
    assert sla["agreement"] == "standard"
    assert sla["paused"] is False
    created = at(seen["created_at"])
    assert sla["response"]["target"] == "1h"
    assert at(sla["response"]["due_at"]) == created + timedelta(hours=1)
    assert 3500 < sla["response"]["remaining_seconds"] <= 3600
    assert sla["response"]["breached"] is False
    assert sla["resolution"]["target"] == "4h"
    assert at(sla["resolution"]["due_at"]) == created + timedelta(hours=4)
    listed = client.get("/api/tickets", headers=bob).json()["items"]
    assert [t["sla"]["response"]["target"] for t in listed if t["ref"] == ref] == ["1h"]

    # On hold: both clocks stop, and the watcher has nothing to wake for.
    held = client.patch(f"/api/tickets/{ref}", json={"status": "on_hold"}, headers=bob)
    assert held.status_code == 200, held.text
    assert held.json()["sla"]["paused"] is True
    assert held.json()["sla"]["resolution"]["paused"] is True
    assert held.json()["sla"]["summary"] == "paused (on hold)"

    async def clock(uow: Any) -> tuple[Any, ...]:
        t = await uow.tickets.by_ref(ref)
        return t.sla_paused_at, t.sla_next_at, t.responded_at, t.resolve_due_at

    paused_at, next_at, responded_at, resolve_due = run(client, clock)
    assert paused_at is not None
    assert next_at is None
    # Bob's update was the first agent action: the response target is met.
    assert responded_at is not None

    # Back in progress: the resolution target moves later by the time on hold.
    resumed = client.patch(f"/api/tickets/{ref}", json={"status": "in_progress"}, headers=bob)
    assert resumed.status_code == 200, resumed.text
    body = resumed.json()["sla"]
    assert body["paused"] is False
    assert at(body["resolution"]["due_at"]) >= resolve_due
    paused_at, next_at, _, _ = run(client, clock)
    assert paused_at is None
    assert next_at is not None

    # A lower priority re-targets from the creation: P3 has 3 days to resolve.
    lowered = client.patch(f"/api/tickets/{ref}", json={"priority": "P3"}, headers=bob)
    assert lowered.status_code == 200, lowered.text
    body = lowered.json()["sla"]
    assert body["resolution"]["target"] == "3d"
    due = at(body["resolution"]["due_at"])
    assert created + timedelta(days=3) <= due < created + timedelta(days=3, minutes=1)

    # Resolved: the clock stops and the resolution is met.
    done = client.patch(f"/api/tickets/{ref}", json={"status": "resolved"}, headers=bob)
    assert done.status_code == 200, done.text
    body = done.json()["sla"]
    assert body["summary"] == "met"
    assert body["resolution"]["met_at"] is not None
    assert body["resolution"]["remaining_seconds"] is None
    assert run(client, clock)[1] is None

    async def actions(uow: Any) -> list[str]:
        t = await uow.tickets.by_ref(ref)
        return [e.action for e in await uow.tickets.events(t.id)]

    assert run(client, actions).count("sla") == 2  # opened, then re-targeted


def test_group_queue_lists_unassigned_first_by_due_time(
    client: TestClient, settings: Settings
) -> None:
    slow = report(client, "VPN is slow for me", "VPN", urgency="low")
    urgent = report(client, "VPN is down for everyone", "VPN")
    taken = report(client, "the WAN link flaps", "WAN")
    desk = report(client, "Email bounces", "Email", urgency="low")
    bob = headers(client, settings, "bob@example.com")
    assigned = client.patch(
        f"/api/tickets/{taken}", json={"assignee_email": "erin@example.com"}, headers=bob
    )
    assert assigned.status_code == 200, assigned.text

    queue = client.get("/api/queues/NETWORK", headers=bob)
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert body["group"] == "network"
    assert body["total"] == 3
    refs = [t["ref"] for t in body["items"]]
    # The urgent one is due first, the assigned one comes last whatever its due time.
    assert refs == [urgent, slow, taken]
    assert desk not in refs
    assert all(t["group"] == "network" for t in body["items"])
    assert [
        t["ref"] for t in client.get("/api/queues/service-desk", headers=bob).json()["items"]
    ] == [desk]

    alice = headers(client, settings, "alice@example.com")
    assert client.get("/api/queues/network", headers=alice).status_code == 403
    assert client.get("/api/queues/nobody", headers=bob).status_code == 404
    assert client.get("/api/queues/network").status_code == 401


def test_supplier_hand_off_mails_the_contact_and_starts_their_clock(
    client: TestClient,
    settings: Settings,
    smtp: FakeSmtpServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    # VPN depends on WAN, which NetCo runs: "the supplier" is NetCo.
    ref = report(client, "VPN is down for everyone", "VPN")
    bob = headers(client, settings, "bob@example.com")
    alice = headers(client, settings, "alice@example.com")
    assert client.post(f"/api/tickets/{ref}/supplier", json={}, headers=alice).status_code == 403
    assert (
        client.post(
            f"/api/tickets/{ref}/supplier", json={"supplier": "Nope"}, headers=bob
        ).status_code
        == 404
    )
    assert (
        client.post(f"/api/tickets/{ref}/supplier", json={"when": 1}, headers=bob).status_code
        == 400
    )

    res = client.post(
        f"/api/tickets/{ref}/supplier", json={"note": "our side is clean"}, headers=bob
    )
    assert res.status_code == 200, res.text
    out = res.json()
    assert (out["supplier"], out["contract"], out["email"]) == (
        "NetCo",
        "UC-7",
        "noc@netco.example",
    )
    assert out["mailed"] is True
    worker = client.app.state.container.worker  # type: ignore[attr-defined]
    assert worker is not None
    assert worker.handling.mail is True
    handed = utcnow()
    due = at(out["response_due_at"])
    assert handed - timedelta(minutes=1) < due - timedelta(minutes=30) <= handed

    [mail] = smtp.wait_for(1)
    assert mail.login == ("desk", PASSWORD)
    assert mail.rcpt_to == ["noc@netco.example"]
    message = mail.message
    assert message["To"] == "noc@netco.example"
    assert message["From"] == "desk@example.com"
    assert message["Subject"] == f"[{ref}] P1 incident for NetCo: VPN is down for everyone"
    assert message["X-Switchboard-Ticket"] == ref
    text = message.get_content()
    assert f"We are handing {ref} to you under UC-7." in text
    assert "Response due: " in text
    assert "Note from Bob Lead: our side is clean" in text

    # Our clock and theirs, side by side.
    seen = client.get(f"/api/tickets/{ref}", headers=bob).json()
    assert seen["status"] == "in_progress"
    assert seen["supplier"]["name"] == "NetCo"
    assert seen["supplier"]["waiting"] is True
    assert seen["supplier"]["response"]["target"] == "30m"
    assert seen["supplier"]["resolution"]["target"] == "6h"
    assert seen["supplier"]["response"]["breached"] is False
    assert seen["sla"]["response"]["target"] == "1h"

    async def stored(uow: Any) -> str:
        rows = await uow.session.scalars(select(OutboxMessage))
        events = await uow.session.scalars(select(TicketEvent))
        return repr([(r.address, r.reply) for r in rows]) + repr([e.detail for e in events])

    captured = capfd.readouterr()
    everything = captured.out + captured.err + caplog.text + str(run(client, stored))
    assert PASSWORD not in everything


def test_supplier_hand_off_without_mail_gives_the_text_to_forward(
    settings: Settings, tmp_path: Path, understander: Understander
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load_desk(settings, desk))
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as c:
        ref = report(c, "the WAN link is down", "WAN")
        bob = headers(c, settings, "bob@example.com")
        res = c.post(f"/api/tickets/{ref}/supplier", json={"supplier": "netco"}, headers=bob)
        assert res.status_code == 200, res.text
        out = res.json()
        assert out["mailed"] is False
        assert f"We are handing {ref} to you under UC-7." in out["body"]
        # Chat hand-offs learn the same from the worker: no mail set up, none queued.
        worker = app.state.container.worker
        assert worker is not None
        assert worker.handling.mail is False

        async def mail_rows(uow: Any) -> int:
            rows = await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.platform == "email")
            )
            return len(list(rows))

        assert run(c, mail_rows) == 0
        email = report(c, "Email bounces", "Email", urgency="low")
        refused = c.post(f"/api/tickets/{email}/supplier", json={}, headers=bob)
        assert refused.status_code == 409
        assert "no supplier" in refused.json()["detail"]
