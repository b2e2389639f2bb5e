"""`/api/changes` and `/api/problems`: the steps after approval, freezes, the calendar, problems."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.enums import ChangeType, Status, TicketKind
from store.uow import UnitOfWork
from tests.e2e.test_api import token_for
from tests.e2e.test_cmdb_api import load

DESK = """
services:
  - {name: Payroll, criticality: critical, owner_group: business-apps, depends_on: [payroll-db]}
configuration_items:
  - {name: payroll-db, type: database}
standard_changes:
  - {name: Restart mail relay, services: [Email], duration: 30m, backout_plan: start it again}
freeze_windows:
  - name: year-end
    start: 2027-12-28 00:00
    end: 2028-01-02 00:00
    timezone: Europe/Berlin
    services: [Payroll]
    reason: closing the books
"""


async def raise_change(
    settings: Settings,
    who: str,
    title: str,
    *,
    service: str,
    change_type: ChangeType = ChangeType.NORMAL,
    kind: TicketKind = TicketKind.CHANGE,
) -> str:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(who)
            svc = await uow.cmdb.by_name(service)
            assert person is not None
            assert svc is not None
            status = Status.AWAITING_APPROVAL if kind is TicketKind.CHANGE else Status.NEW
            t = await uow.tickets.create(
                kind=kind,
                title=title,
                requester=person,
                description=title,
                status=status,
                change_type=change_type if kind is TicketKind.CHANGE else None,
                service_id=svc.id,
            )
            await uow.commit()
            return t.ref
    finally:
        await engine.dispose()


def window(start: str, end: str) -> dict[str, Any]:
    return {"start": start, "end": end}


def test_the_change_lifecycle_freezes_and_the_calendar(
    any_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load(any_settings, desk))
    auth = {
        who: {
            "Authorization": f"Bearer {asyncio.run(token_for(any_settings, f'{who}@example.com'))}"
        }
        for who in ("alice", "bob", "carol", "frank", "dan")
    }
    first = asyncio.run(
        raise_change(any_settings, "alice@example.com", "Patch payroll", service="Payroll")
    )
    second = asyncio.run(
        raise_change(any_settings, "dan@example.com", "Tune payroll-db", service="payroll-db")
    )
    urgent = asyncio.run(
        raise_change(
            any_settings,
            "alice@example.com",
            "Hotfix payroll",
            service="Payroll",
            change_type=ChangeType.EMERGENCY,
        )
    )
    app = create_app(any_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        ok = window("2027-12-05T22:00:00+00:00", "2027-12-06T02:00:00+00:00")
        early = client.post(f"/api/changes/{first}/schedule", json=ok, headers=auth["alice"])
        assert early.status_code == 409
        assert "once it is approved" in early.json()["detail"]

        # The approval policy still holds: not an approver, or one's own change, is refused.
        assert (
            client.patch(
                f"/api/tickets/{first}", json={"status": "approved"}, headers=auth["bob"]
            ).status_code
            == 403
        )
        for ref in (first, second, urgent):
            done = client.patch(
                f"/api/tickets/{ref}", json={"status": "approved"}, headers=auth["carol"]
            )
            assert done.status_code == 200, done.text

        backwards = window("2027-12-06T02:00:00+00:00", "2027-12-05T22:00:00+00:00")
        bad = client.post(f"/api/changes/{first}/schedule", json=backwards, headers=auth["alice"])
        assert bad.status_code == 400
        assert "before it starts" in bad.json()["detail"]
        naive = client.post(
            f"/api/changes/{first}/schedule",
            json=window("2027-12-05T22:00:00", "2027-12-06T02:00:00"),
            headers=auth["alice"],
        )
        assert naive.status_code == 400

        # 23:30 UTC on the 27th is 00:30 in Berlin on the 28th: inside the freeze.
        frozen = window("2027-12-27T23:30:00+00:00", "2027-12-28T01:00:00+00:00")
        refused = client.post(f"/api/changes/{first}/schedule", json=frozen, headers=auth["alice"])
        assert refused.status_code == 409
        assert "year-end" in refused.json()["detail"]
        just_before = window("2027-12-27T21:00:00+00:00", "2027-12-27T23:00:00+00:00")
        assert (
            client.post(
                f"/api/changes/{first}/schedule", json=just_before, headers=auth["alice"]
            ).status_code
            == 200
        )

        res = client.post(f"/api/changes/{first}/schedule", json=ok, headers=auth["alice"])
        assert res.status_code == 200, res.text
        assert res.json()["stage"] == "scheduled"
        assert res.json()["items"] == ["Payroll"]
        # Risk is worked out when scheduling, from what the change touches and its type.
        assert res.json()["risk"] in ("low", "medium", "high", "very high")
        assert (
            client.get(f"/api/changes/{first}", headers=auth["alice"]).json()["risk"]
            == (res.json()["risk"])
        )
        # Payroll depends on payroll-db: an overlapping change to the database collides.
        clash = client.post(
            f"/api/changes/{second}/schedule",
            json=window("2027-12-06T01:00:00+00:00", "2027-12-06T03:00:00+00:00"),
            headers=auth["dan"],
        )
        assert clash.status_code == 200, clash.text
        assert clash.json()["collides_with"] == [first]

        # Someone else's change: not theirs to see, let alone move on.
        assert (
            client.post(f"/api/changes/{first}/implement", headers=auth["dan"]).status_code == 404
        )
        # Illegal transitions are 409 naming what is allowed.
        closing = client.post(f"/api/changes/{first}/close", headers=auth["alice"])
        assert closing.status_code == 409
        assert "Allowed: schedule, implement" in closing.json()["detail"]
        started = client.post(f"/api/changes/{first}/implement", headers=auth["bob"])
        assert started.status_code == 200
        assert started.json()["status"] == "in_progress"
        done = client.post(
            f"/api/changes/{first}/complete",
            json={"outcome": "failed", "note": "disk full"},
            headers=auth["alice"],
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "resolved"
        assert done.json()["review_required"] is True
        assert (
            client.post(
                f"/api/changes/{first}/complete",
                json={"outcome": "successful"},
                headers=auth["alice"],
            ).status_code
            == 409
        )
        assert (
            client.post(
                f"/api/changes/{first}/complete", json={"outcome": "maybe"}, headers=auth["alice"]
            ).status_code
            == 400
        )
        closed = client.post(f"/api/changes/{first}/close", headers=auth["alice"])
        assert closed.json()["status"] == "closed"

        # An emergency change enters the freeze only with a second approver scheduling it.
        for who in ("alice", "carol"):
            no = client.post(f"/api/changes/{urgent}/schedule", json=frozen, headers=auth[who])
            assert no.status_code == 403, (who, no.text)
            assert "second approver" in no.json()["detail"]
        yes = client.post(f"/api/changes/{urgent}/schedule", json=frozen, headers=auth["frank"])
        assert yes.status_code == 200, yes.text
        assert yes.json()["freeze_override"] == "year-end"
        assert yes.json()["review_required"] is True
        events = client.get(f"/api/tickets/{urgent}/events", headers=auth["carol"]).json()
        assert any(e["action"] == "scheduled" for e in events)

        std = client.post(
            "/api/changes",
            json={"template": "restart mail relay", "start": "2027-12-10T21:00:00+00:00"},
            headers=auth["bob"],
        )
        assert std.status_code == 201, std.text
        assert std.json()["type"] == "standard"
        assert std.json()["status"] == "approved"
        assert std.json()["end"].startswith("2027-12-10T21:30")
        assert (
            client.post(
                "/api/changes",
                json={"template": "nope", "start": "2027-12-10T21:00:00+00:00"},
                headers=auth["bob"],
            ).status_code
            == 404
        )

        cal = client.get(
            "/api/changes/calendar",
            params={"from": "2027-12-01", "to": "2028-01-31"},
            headers=auth["alice"],
        )
        assert cal.status_code == 200, cal.text
        body = cal.json()
        assert set(body) == {"from", "to", "changes", "freezes"}
        refs = [c["ref"] for c in body["changes"]]
        assert refs == [first, second, std.json()["ref"], urgent]
        entry = body["changes"][1]
        assert set(entry) == {
            "ref",
            "title",
            "type",
            "status",
            "stage",
            "start",
            "end",
            "items",
            "requester",
            "collides_with",
        }
        # Payroll depends on payroll-db: the two overlap and collide, seen from either side.
        assert entry["collides_with"] == [first]
        assert body["changes"][0]["collides_with"] == [second]
        assert body["freezes"] == [
            {
                "name": "year-end",
                "start": "2027-12-27T23:00:00Z",
                "end": "2028-01-01T23:00:00Z",
                "timezone": "Europe/Berlin",
                "services": ["Payroll"],
                "reason": "closing the books",
            }
        ]
        narrow = client.get(
            "/api/changes/calendar",
            params={"from": "2027-12-10T00:00:00Z", "to": "2027-12-11T00:00:00Z"},
            headers=auth["alice"],
        ).json()
        assert [c["ref"] for c in narrow["changes"]] == [std.json()["ref"]]
        assert narrow["freezes"] == []
        ics = client.get(
            "/api/changes/calendar",
            params={"from": "2027-12-01", "to": "2028-01-31", "format": "ics"},
            headers=auth["alice"],
        )
        assert ics.headers["content-type"].startswith("text/calendar")
        assert ics.text.count("BEGIN:VEVENT") == 5
        for params in ({"from": "2027-12-31", "to": "2027-12-01"}, {"from": "soon"}):
            assert (
                client.get(
                    "/api/changes/calendar", params=params, headers=auth["alice"]
                ).status_code
                == 400
            )
        assert client.get("/api/changes/calendar").status_code == 401


def test_problems_through_the_api(demo_settings: Settings, understander: Understander) -> None:
    auth = {
        who: {
            "Authorization": f"Bearer {asyncio.run(token_for(demo_settings, f'{who}@example.com'))}"
        }
        for who in ("alice", "bob")
    }
    incidents = [
        asyncio.run(
            raise_change(
                demo_settings,
                "alice@example.com",
                "printer offline",
                service="Printing",
                kind=TicketKind.INCIDENT,
            )
        )
        for _ in range(2)
    ]
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        body = {"title": "Printers drop off the network", "incidents": incidents}
        assert client.post("/api/problems", json=body, headers=auth["alice"]).status_code == 403
        made = client.post("/api/problems", json=body, headers=auth["bob"])
        assert made.status_code == 201, made.text
        ref = made.json()["ref"]
        assert ref.startswith("PRB-")
        assert made.json()["incidents"] == incidents
        assert made.json()["service"] == "Printing"
        bad = client.post(
            "/api/problems", json={"title": "x", "incidents": ["INC-99999"]}, headers=auth["bob"]
        )
        assert bad.status_code == 422  # unknown incident named

        jump = client.patch(f"/api/problems/{ref}", json={"stage": "resolved"}, headers=auth["bob"])
        assert jump.status_code == 409
        assert "Allowed: investigating, known error, closed" in jump.json()["detail"]
        bare = client.patch(
            f"/api/problems/{ref}", json={"stage": "known_error"}, headers=auth["bob"]
        )
        assert bare.status_code == 409
        known = client.patch(
            f"/api/problems/{ref}",
            json={
                "stage": "known_error",
                "root_cause": "DHCP lease too short",
                "workaround": "Power-cycle the printer",
                "symptoms": ["printer offline"],
            },
            headers=auth["bob"],
        )
        assert known.status_code == 200, known.text
        assert known.json()["stage"] == "known_error"
        assert known.json()["status"] == "in_progress"
        listed = client.get("/api/problems", params={"stage": "known_error"}, headers=auth["bob"])
        assert [p["ref"] for p in listed.json()] == [ref]
        assert client.get(f"/api/problems/{ref}", headers=auth["alice"]).status_code == 403
        assert client.get("/api/problems/PRB-424242", headers=auth["bob"]).status_code == 404
