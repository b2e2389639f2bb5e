"""`/api/releases` and change boards through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from tests.e2e.test_api import token_for
from tests.e2e.test_changes_api import raise_change, window
from tests.e2e.test_cmdb_api import load

DESK = """
groups:
  - {name: payroll-board, members: [carol@example.com, frank@example.com]}
services:
  - {name: Payroll, criticality: critical}
  - {name: Email, criticality: high}
change_boards:
  - {name: payroll-cab, group: payroll-board, services: [Payroll], quorum: 2}
freeze_windows:
  - {name: launch, start: "2027-06-01 08:00", end: "2027-06-01 20:00", services: [Email]}
"""


def test_releases_and_boards_through_the_api(
    any_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load(any_settings, desk))
    auth = {
        who: {
            "Authorization": f"Bearer {asyncio.run(token_for(any_settings, f'{who}@example.com'))}"
        }
        for who in ("alice", "bob", "carol", "frank", "grace")
    }
    payroll = asyncio.run(
        raise_change(any_settings, "alice@example.com", "Patch payroll", service="Payroll")
    )
    mail = asyncio.run(
        raise_change(any_settings, "alice@example.com", "Upgrade mail", service="Email")
    )
    app = create_app(any_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        sat = window("2027-03-06T22:00:00+00:00", "2027-03-07T02:00:00+00:00")
        body = {"name": "R-12", **sat, "changes": [payroll, mail]}
        assert client.post("/api/releases", json=body, headers=auth["alice"]).status_code == 403
        inverted = {**body, "end": "2027-03-06T21:00:00+00:00"}
        bad = client.post("/api/releases", json=inverted, headers=auth["bob"])
        assert bad.status_code == 400
        assert "before it starts" in bad.json()["detail"]
        unknown = client.post(
            "/api/releases", json={**body, "changes": ["CHG-999"]}, headers=auth["bob"]
        )
        assert unknown.status_code == 400
        assert "no change CHG-999" in unknown.json()["detail"]
        assert (
            client.post(
                "/api/releases", json={**body, "name": "release twelve"}, headers=auth["bob"]
            ).status_code
            == 400
        )
        made = client.post("/api/releases", json=body, headers=auth["bob"])
        assert made.status_code == 201, made.text
        assert made.json()["status"] == "awaiting_approval"
        assert [c["ref"] for c in made.json()["changes"]] == [payroll, mail]
        taken = client.post("/api/releases", json=body, headers=auth["bob"])
        assert taken.status_code == 409
        assert client.get("/api/releases/R-99", headers=auth["bob"]).status_code == 404
        assert client.get("/api/releases", headers=auth["alice"]).status_code == 403

        # Grace (admin) is on no board: Payroll's board refuses her, Email has no board.
        graces = client.post("/api/releases/R-12/approve", json={}, headers=auth["grace"])
        assert graces.status_code == 200, graces.text
        assert graces.json()["decided"] == [f"You approved {mail}. It is now approved."]
        assert graces.json()["not_decided"] == [
            f"{payroll} is decided by its change advisory board, and you are not on it."
        ]
        direct = client.patch(
            f"/api/tickets/{payroll}", json={"status": "approved"}, headers=auth["grace"]
        )
        assert direct.status_code == 403
        first = client.post("/api/releases/R-12/approve", json={}, headers=auth["carol"])
        assert first.json()["status"] == "awaiting_approval"
        assert "payroll-cab 1 of 2" in first.json()["decided"][0]
        again = client.post("/api/releases/R-12/approve", json={}, headers=auth["carol"])
        assert again.status_code == 403
        done = client.post(
            "/api/releases/R-12/approve", json={"comment": "ok"}, headers=auth["frank"]
        )
        assert done.json()["status"] == "approved", done.text
        assert (
            client.post("/api/releases/R-12/approve", json={}, headers=auth["frank"]).status_code
            == 409
        )

        outside = window("2027-03-07T01:00:00+00:00", "2027-03-07T03:00:00+00:00")
        refused = client.post(f"/api/changes/{payroll}/schedule", json=outside, headers=auth["bob"])
        assert refused.status_code == 409
        assert "release R-12" in refused.json()["detail"]
        inside = window("2027-03-06T22:00:00+00:00", "2027-03-06T23:00:00+00:00")
        for ref in (payroll, mail):
            ok = client.post(f"/api/changes/{ref}/schedule", json=inside, headers=auth["bob"])
            assert ok.status_code == 200, ok.text
            assert ok.json()["release"] == "R-12"
        client.post(f"/api/changes/{payroll}/implement", headers=auth["bob"])
        shown = client.get("/api/releases/R-12", headers=auth["bob"]).json()
        assert shown["status"] == "in_progress"
        assert shown["changes"][0]["stage"] == "implementing"
        client.post(
            f"/api/changes/{payroll}/complete", json={"outcome": "successful"}, headers=auth["bob"]
        )
        client.post(f"/api/changes/{mail}/implement", headers=auth["bob"])
        client.post(
            f"/api/changes/{mail}/complete", json={"outcome": "successful"}, headers=auth["bob"]
        )
        assert client.get("/api/releases/R-12", headers=auth["bob"]).json()["status"] == "complete"

        late = asyncio.run(
            raise_change(any_settings, "alice@example.com", "Late patch", service="Email")
        )
        added = client.post(
            "/api/releases/R-12/changes", json={"changes": [late]}, headers=auth["bob"]
        )
        assert added.status_code == 200
        assert added.json()["status"] == "in_progress"
        other = client.post(
            "/api/releases",
            json={
                **window("2027-04-01T00:00:00+00:00", "2027-04-02T00:00:00+00:00"),
                "changes": [late],
            },
            headers=auth["bob"],
        )
        assert other.status_code == 409
        assert "already in release R-12" in other.json()["detail"]
