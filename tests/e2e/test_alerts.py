"""Monitoring alerts through the whole app: POST /api/alerts in, incidents opened and closed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from channels.alerts.verify import signature
from handlers.rules import priority as prio
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.enums import Criticality, Level, Status, TicketKind
from store.models import InboxEvent, ServiceLink, Ticket
from store.uow import UnitOfWork
from tests.e2e.test_webchat import say, wait_replies

T = TypeVar("T")
FP = "9f1c2a7be0d44e35"


def in_db(settings: Settings, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(
            settings.async_database_url, connect_args=settings.database_connect_args
        )
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                result = await work(uow)
                await uow.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def integration(settings: Settings, name: str, *, with_secret: bool = False) -> tuple[str, str]:
    async def issue(uow: UnitOfWork) -> tuple[str, str]:
        issued = await uow.integrations.issue(name, with_secret=with_secret)
        return issued.token, issued.secret or ""

    return in_db(settings, issue)


def settle(settings: Settings, check: Callable[[UnitOfWork], Awaitable[bool]]) -> None:
    """Wait until the worker has got the database to the state `check` looks for."""
    deadline = time.monotonic() + 30
    while not in_db(settings, check):
        assert time.monotonic() < deadline, "the worker did not get there in 30 s"
        time.sleep(0.1)


async def nothing_pending(uow: UnitOfWork) -> bool:
    stmt = select(func.count(InboxEvent.id)).where(InboxEvent.status == "pending")
    return (await uow.session.execute(stmt)).scalar_one() == 0


async def incidents(uow: UnitOfWork) -> list[Ticket]:
    stmt = select(Ticket).where(Ticket.kind == TicketKind.INCIDENT).order_by(Ticket.id)
    return list(await uow.session.scalars(stmt))


def notification(status: str, starts: str, *, service: str = "vpn") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="VPNGatewayDown"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "switchboard",
        "groupLabels": {"alertname": "VPNGatewayDown"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "VPNGatewayDown",
                    "service": service,
                    "severity": "critical",
                    "instance": "vpn-gw-1:9100",
                },
                "annotations": {"summary": "VPN gateway vpn-gw-1 is not answering"},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": FP,
            }
        ],
    }


def post(client: TestClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    res = client.post("/api/alerts", json=body, headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 202, res.text
    return dict(res.json())


def test_firing_three_times_then_resolved_is_one_incident(
    any_settings: Settings, understander: Understander
) -> None:
    token, _ = integration(any_settings, "prometheus")
    app = create_app(any_settings, overrides=Overrides(understander=understander))
    starts = ["2026-12-03T10:00:00Z", "2026-12-03T10:20:00Z", "2026-12-03T10:40:00Z"]
    with TestClient(app) as client:
        for s in starts:
            assert post(client, token, notification("firing", s)) == {
                "accepted": 1,
                "duplicates": 0,
            }
        # Alertmanager repeats a notification unchanged: the inbox recognises it.
        assert post(client, token, notification("firing", starts[0]))["duplicates"] == 1
        settle(any_settings, nothing_pending)

        async def firing(uow: UnitOfWork) -> tuple[list[Ticket], int, list[str]]:
            row = await uow.alerts.by_fingerprint(FP)
            assert row is not None
            found = await incidents(uow)
            actions = [e.action for e in await uow.tickets.events(found[0].id)]
            return found, row.count, actions

        found, count, actions = in_db(any_settings, firing)
        assert len(found) == 1
        [incident] = found
        assert incident.status is Status.NEW
        assert incident.service is not None
        assert incident.service.name == "VPN"
        assert incident.priority is not None
        assert incident.priority.value == "P1"
        assert count == 3
        # A P1 from monitoring is a major incident at once (its swarm hangs on the record);
        # repeats are the count, not events in the ticket's history.
        assert actions == ["created", "major_declared"]

        visitor = client.post("/webchat/session").json()["token"]
        say(client, visitor, "the vpn is down, I can't connect from home")
        [told] = wait_replies(client, visitor, 0)
        assert "This is a known outage: INC-1" in told["text"]

        post(client, token, notification("resolved", starts[-1]))
        settle(any_settings, nothing_pending)
        alert_incident, report = in_db(any_settings, incidents)
        assert alert_incident.id == incident.id
        assert alert_incident.status is Status.RESOLVED

        async def major_open(uow: UnitOfWork) -> bool:
            major = await uow.major_incidents.for_ticket(incident.id)
            assert major is not None
            return major.open

        assert in_db(any_settings, major_open) is False
        assert report.status is not Status.RESOLVED
        [over] = wait_replies(client, visitor, told["id"])
        assert "The outage behind INC-2 (INC-1) is over" in over["text"]


def test_report_during_outage_is_linked_and_told(
    demo_settings: Settings, understander: Understander
) -> None:
    token, _ = integration(demo_settings, "prometheus")
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        post(client, token, notification("firing", "2026-12-03T10:00:00Z"))
        settle(demo_settings, nothing_pending)
        visitor = client.post("/webchat/session").json()["token"]
        say(client, visitor, "the vpn is down, I can't connect from home")
        [reply] = wait_replies(client, visitor, 0)
        assert reply["ticket_ref"] == "INC-2"
        assert "This is a known outage: INC-1" in reply["text"]

        async def links(uow: UnitOfWork) -> list[tuple[str, str]]:
            report = await uow.tickets.by_ref("INC-2")
            assert report is not None
            out = []
            for link in await uow.alerts.links(report.id):
                a, b = await uow.tickets.get(link.ticket_id), await uow.tickets.get(link.linked_id)
                assert a is not None
                assert b is not None
                out.append((a.ref, b.ref))
            return out

        assert in_db(demo_settings, links) == [("INC-2", "INC-1")]

        # Someone now works the outage: its alert clearing no longer closes it.
        bob = in_db(demo_settings, _token_for("bob@example.com"))
        res = client.patch(
            "/api/tickets/INC-1",
            json={"assignee_email": "bob@example.com"},
            headers={"Authorization": f"Bearer {bob}"},
        )
        assert res.status_code == 200, res.text
        post(client, token, notification("resolved", "2026-12-03T10:00:00Z"))
        settle(demo_settings, nothing_pending)

        async def outage(uow: UnitOfWork) -> tuple[Status, list[str]]:
            t = await uow.tickets.by_ref("INC-1")
            assert t is not None
            return t.status, [e.action for e in await uow.tickets.events(t.id)]

        status, actions = in_db(demo_settings, outage)
        assert status is not Status.RESOLVED
        assert actions[-1] == "alert_cleared"
        assert "report_linked" in actions


def _token_for(email: str) -> Callable[[UnitOfWork], Awaitable[str]]:
    async def issue(uow: UnitOfWork) -> str:
        person = await uow.people.by_email(email)
        assert person is not None
        return (await uow.tokens.issue(person, "test")).token

    return issue


def test_generic_signed_event_with_unknown_ci(
    demo_settings: Settings, understander: Understander
) -> None:
    _, secret = integration(demo_settings, "zabbix", with_secret=True)
    event = {
        "source": "zabbix",
        "ci": "db-7",
        "severity": "warning",
        "status": "firing",
        "fingerprint": "zbx-4411",
        "summary": "Disk almost full",
        "labels": {"mount": "/var"},
        "starts_at": "2026-12-03T09:00:00Z",
    }
    body = json.dumps(event).encode()
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        res = client.post(
            "/api/alerts",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Switchboard-Signature": signature(secret, body),
            },
        )
        assert res.status_code == 202, res.text
        settle(demo_settings, nothing_pending)
        [incident] = in_db(demo_settings, incidents)
        assert incident.title == "Disk almost full (unknown CI: db-7)"
        # Filed for triage under `unclassified`, with the impact of an unknown CI.
        assert incident.service is not None
        assert incident.service.name == "unclassified"
        assert incident.priority is not None
        assert incident.priority.value == "P3"


async def _vpn_depends_on_wan(uow: UnitOfWork) -> None:
    wan = await uow.services.upsert("wan")
    vpn = await uow.services.by_name("vpn")
    assert vpn is not None
    uow.session.add(ServiceLink(service_id=vpn.id, target_id=wan.id, relation="depends_on"))


def test_an_alert_on_what_a_report_depends_on_links_the_report_and_tells_it(
    demo_settings: Settings, understander: Understander
) -> None:
    in_db(demo_settings, _vpn_depends_on_wan)
    token, _ = integration(demo_settings, "prometheus")
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        visitor = client.post("/webchat/session").json()["token"]
        say(client, visitor, "the vpn is down, I can't connect from home")
        [logged] = wait_replies(client, visitor, 0)
        assert logged["ticket_ref"] == "INC-1"
        assert "known outage" not in logged["text"]

        post(client, token, notification("firing", "2026-12-03T10:00:00Z", service="wan"))
        settle(demo_settings, nothing_pending)
        [found] = wait_replies(client, visitor, logged["id"])
        assert "Monitoring has found the outage behind INC-1: it is INC-2" in found["text"]

        report, outage = in_db(demo_settings, incidents)
        assert outage.service is not None
        assert outage.service.name == "wan"

        async def links(uow: UnitOfWork) -> list[tuple[int, int]]:
            return [(k.ticket_id, k.linked_id) for k in await uow.alerts.links(report.id)]

        assert in_db(demo_settings, links) == [(report.id, outage.id)]

        post(client, token, notification("resolved", "2026-12-03T10:00:00Z", service="wan"))
        settle(demo_settings, nothing_pending)
        [over] = wait_replies(client, visitor, found["id"])
        assert "The outage behind INC-1 (INC-2) is over" in over["text"]


def test_a_report_on_a_service_depending_on_an_alerting_one_is_a_known_outage(
    demo_settings: Settings, understander: Understander
) -> None:
    in_db(demo_settings, _vpn_depends_on_wan)
    token, _ = integration(demo_settings, "prometheus")
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        post(client, token, notification("firing", "2026-12-03T10:00:00Z", service="wan"))
        settle(demo_settings, nothing_pending)
        visitor = client.post("/webchat/session").json()["token"]
        say(client, visitor, "the vpn is down, I can't connect from home")
        [reply] = wait_replies(client, visitor, 0)
        assert reply["ticket_ref"] == "INC-2"
        assert "This is a known outage: INC-1" in reply["text"]


async def _email_runs_on_a_database_host(uow: UnitOfWork) -> None:
    email = await uow.services.by_name("email")
    assert email is not None
    low = Criticality.LOW
    cluster = await uow.services.upsert("mail-cluster", type="application", criticality=low)
    db = await uow.services.upsert("mail-db", type="database", criticality=low)
    await uow.services.upsert("mail-db-host-1", type="server", criticality=low, parent_id=db.id)
    uow.session.add(ServiceLink(service_id=email.id, target_id=cluster.id, relation="runs_on"))
    uow.session.add(ServiceLink(service_id=cluster.id, target_id=db.id, relation="depends_on"))


def test_an_alert_deep_in_the_cmdb_joins_reports_on_what_stands_on_it(
    demo_settings: Settings, understander: Understander
) -> None:
    """Email runs on mail-cluster, which depends on mail-db, of which mail-db-host-1 is a part:
    an alert on the host takes Email's criticality, gathers the open Email report, and a later
    Email report is told it is the known outage."""
    in_db(demo_settings, _email_runs_on_a_database_host)
    token, _ = integration(demo_settings, "prometheus")
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    alert = notification("firing", "2026-12-03T10:00:00Z", service="mail-db-host-1")
    alert["alerts"][0]["labels"]["severity"] = "warning"
    with TestClient(app) as client:
        first = client.post("/webchat/session").json()["token"]
        say(client, first, "outlook is down, I can't send any email")
        [logged] = wait_replies(client, first, 0)
        assert logged["ticket_ref"] == "INC-1"

        post(client, token, alert)
        settle(demo_settings, nothing_pending)
        [found] = wait_replies(client, first, logged["id"])
        assert "Monitoring has found the outage behind INC-1: it is INC-2" in found["text"]
        _, outage = in_db(demo_settings, incidents)
        assert outage.impact is Level.HIGH
        assert outage.priority is prio.priority(Level.HIGH, Level.MEDIUM)

        second = client.post("/webchat/session").json()["token"]
        say(client, second, "my email is not working at all")
        [reply] = wait_replies(client, second, 0)
        assert reply["ticket_ref"] == "INC-3"
        assert "This is a known outage: INC-2" in reply["text"]


def test_workers_meeting_their_first_unknown_ci_at_once_make_one_triage_service(
    any_settings: Settings,
) -> None:
    async def race() -> list[int]:
        engine = create_engine(
            any_settings.async_database_url, connect_args=any_settings.database_connect_args
        )
        factory = session_factory(engine)

        async def worker() -> int:
            async with UnitOfWork(factory) as uow:
                service = await uow.alerts.triage_service("unclassified", "for triage")
                # Held open, so the other worker's insert meets this one's uncommitted row.
                await asyncio.sleep(0.2)
                await uow.commit()
                return service.id

        try:
            return list(await asyncio.gather(worker(), worker()))
        finally:
            await engine.dispose()

    first, second = asyncio.run(race())
    assert first == second


def test_refused_requests_store_nothing(any_settings: Settings, understander: Understander) -> None:
    token, secret = integration(any_settings, "prometheus", with_secret=True)
    body = json.dumps(notification("firing", "2026-12-03T10:00:00Z")).encode()
    app = create_app(any_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        json_type = {"Content-Type": "application/json"}
        for headers in (
            {},
            {"Authorization": "Bearer sbi_not-a-token"},
            {"Authorization": f"Bearer {token}x"},
            {"X-Switchboard-Signature": signature(secret, body + b" ")},
            {"X-Switchboard-Signature": signature("wrong" * 8, body)},
        ):
            res = client.post("/api/alerts", content=body, headers={**json_type, **headers})
            assert res.status_code == 401, headers
        bad = notification("firing", "2026-12-03T10:00:00Z")
        bad["alerts"][0]["labels"]["severity"] = 3
        res = client.post("/api/alerts", json=bad, headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 400
        assert "alerts[0].labels.severity" in res.json()["error"]
        res = client.post(
            "/api/alerts",
            json={"status": "firing"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert res.status_code == 400
        assert "fingerprint" in res.json()["error"]

        async def stored(uow: UnitOfWork) -> int:
            stmt = select(func.count(InboxEvent.id)).where(InboxEvent.platform == "alerts")
            return int((await uow.session.execute(stmt)).scalar_one())

        assert in_db(any_settings, stored) == 0
        assert in_db(any_settings, incidents) == []


def test_firing_after_resolution_opens_a_fresh_incident(
    demo_settings: Settings, understander: Understander
) -> None:
    token, _ = integration(demo_settings, "prometheus")
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        stray = notification("resolved", "2026-12-03T08:00:00Z")
        stray["alerts"][0]["fingerprint"] = "never-fired"
        post(client, token, stray)
        post(client, token, notification("firing", "2026-12-03T09:00:00Z"))
        post(client, token, notification("resolved", "2026-12-03T09:00:00Z"))
        settle(demo_settings, nothing_pending)
        [first] = in_db(demo_settings, incidents)
        assert first.status is Status.RESOLVED

        post(client, token, notification("firing", "2026-12-03T11:00:00Z"))
        settle(demo_settings, nothing_pending)
        old, fresh = in_db(demo_settings, incidents)
        assert old.id == first.id
        assert old.status is Status.RESOLVED
        assert fresh.status is Status.NEW
        assert fresh.title == "VPN gateway vpn-gw-1 is not answering"
