"""`/api/cmdb`: tokens, roles, 404s that say what is missing, edits that leave a history."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from bot.desk.apply import apply
from bot.desk.files import read
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.uow import UnitOfWork
from tests.e2e.test_api import token_for

DESK = """
services:
  - {name: Payroll, criticality: critical, depends_on: [payroll-db]}
  - {name: CRM, criticality: high, depends_on: [payroll-db]}
configuration_items:
  - {name: payroll-db, type: database, runs_on: [db-host-1]}
  - {name: db-host-1, type: server, attributes: {rack: B4}}
"""


async def load(settings: Settings, path: Path) -> None:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            await apply(uow, read([path]))
            await uow.commit()
    finally:
        await engine.dispose()


def test_reading_impact_and_admin_edits(
    any_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load(any_settings, desk))
    tokens = {
        who: asyncio.run(token_for(any_settings, f"{who}@example.com"))
        for who in ("alice", "bob", "grace")
    }
    auth = {who: {"Authorization": f"Bearer {t}"} for who, t in tokens.items()}
    app = create_app(any_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        assert client.get("/api/cmdb/db-host-1/impact").status_code == 401
        assert (
            client.get(
                "/api/cmdb/db-host-1/impact", headers={"Authorization": "Bearer sb_nope"}
            ).status_code
            == 401
        )

        res = client.get("/api/cmdb/db-host-1/impact", headers=auth["alice"])
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["item"] == "db-host-1"
        assert body["total"] == 2
        assert body["more"] == 0
        assert [(s["name"], s["criticality"], s["depth"]) for s in body["services"]] == [
            ("Payroll", "critical", 2),
            ("CRM", "high", 2),
        ]
        assert all(s["open_incidents"] == 0 for s in body["services"])

        missing = client.get("/api/cmdb/no-such-box/impact", headers=auth["bob"])
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no configuration item named 'no-such-box'"

        item = client.get("/api/cmdb/DB-HOST-1", headers=auth["bob"]).json()
        assert item["attributes"] == {"rack": "B4"}
        assert item["type"] == "server"

        edit = {"type": "server", "criticality": "high", "attributes": {"rack": "C1"}}
        # Only an admin edits; an agent or a requester is refused and nothing changes.
        for who in ("alice", "bob"):
            refused = client.put("/api/cmdb/db-host-1", json=edit, headers=auth[who])
            assert refused.status_code == 403
            assert refused.json()["detail"] == "this needs the admin role"
        assert client.put("/api/cmdb/db-host-1", json=edit).status_code == 401

        done = client.put("/api/cmdb/db-host-1", json=edit, headers=auth["grace"])
        assert done.status_code == 200, done.text
        assert done.json()["attributes"] == {"rack": "C1"}
        created = client.put(
            "/api/cmdb/san-1", json={"type": "network", "runs_on": []}, headers=auth["grace"]
        )
        assert created.status_code == 201, created.text

        history = client.get("/api/cmdb/db-host-1/history", headers=auth["bob"])
        assert history.status_code == 200
        events = history.json()
        assert [(e["action"], e["source"], e["actor"]) for e in events] == [
            ("create", "import", None),
            ("update", "api", "Grace Admin"),
        ]
        assert events[1]["changes"] == {
            "criticality": {"from": "medium", "to": "high"},
            "attributes": {"from": {"rack": "B4"}, "to": {"rack": "C1"}},
        }
        assert client.get("/api/cmdb/db-host-1/history", headers=auth["alice"]).status_code == 403


def test_bad_edits_are_refused_with_the_field_named(
    demo_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load(demo_settings, desk))
    grace = {
        "Authorization": f"Bearer {asyncio.run(token_for(demo_settings, 'grace@example.com'))}"
    }
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        cases = [
            (
                {"type": "server", "runs_on": ["Payroll"]},
                "`runs_on`: a cycle: Payroll already depends on db-host-1",
            ),
            (
                {"type": "server", "depends_on": ["ghost"]},
                "`depends_on`: unknown configuration item 'ghost'",
            ),
            (
                {"type": "server", "part_of": "db-host-1"},
                "`part_of`: 'db-host-1' cannot point at itself",
            ),
            ({"type": "server", "owner_group": "nobody"}, "`owner_group`: unknown group 'nobody'"),
        ]
        for body, detail in cases:
            res = client.put("/api/cmdb/db-host-1", json=body, headers=grace)
            assert res.status_code == 422, res.text
            assert res.json()["detail"] == detail
        # A body the schema refuses is the app's validation error: a 4xx naming the field.
        for body in ({"type": "mainframe"}, {"criticality": "huge"}, {"colour": "red"}):
            res = client.put("/api/cmdb/db-host-1", json=body, headers=grace)
            assert res.status_code in (400, 422), res.text
            [problem] = res.json()["detail"]
            assert problem["loc"] == ["body", next(iter(body))]
        history = client.get("/api/cmdb/db-host-1/history", headers=grace).json()
        assert [e["action"] for e in history] == ["create"]


def test_control_characters_are_refused_before_the_database(
    demo_settings: Settings, understander: Understander
) -> None:
    grace = {
        "Authorization": f"Bearer {asyncio.run(token_for(demo_settings, 'grace@example.com'))}"
    }
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        assert client.get("/api/cmdb/a%00b/impact", headers=grace).status_code in (400, 422)
        res = client.put("/api/cmdb/box", json={"description": "a\u0000b"}, headers=grace)
        assert res.status_code in (400, 422), res.text
        assert client.get("/api/cmdb/box", headers=grace).status_code == 404
