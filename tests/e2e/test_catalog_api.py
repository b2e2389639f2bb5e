"""`/api/catalog`: the catalog a caller may order from, and orders checked field by field."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.enums import Status
from store.uow import UnitOfWork
from tests.e2e.test_api import token_for
from tests.e2e.test_cmdb_api import load

DESK = """
groups:
  - {name: hardware, members: [bob@example.com]}
  - {name: finance-approvers, members: [frank@example.com]}
catalog:
  - name: New laptop
    aliases: [laptop]
    category: Hardware
    fields:
      - {name: model, label: Which model, type: choice, choices: [14-inch, 16-inch]}
      - {name: needed_by, label: Needed by, type: date}
      - {name: notes, label: Anything else, required: false}
    approval: {by: group, group: finance-approvers}
    fulfilment: {group: hardware, target: 3d}
    cost: 1200 EUR
  - name: Headset
    fulfilment: {group: hardware, target: 1d}
  - name: Server access
    fields: [{name: host, label: Which server}]
    fulfilment: {group: hardware}
    ordered_by: {roles: [agent]}
"""


async def requester_of(settings: Settings, ref: str) -> str | None:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            ticket = await uow.tickets.by_ref(ref)
            assert ticket is not None
            request = await uow.catalog.request_of(ticket.id)
            assert request is not None
            return ticket.requester.email
    finally:
        await engine.dispose()


def test_listing_and_ordering(
    any_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    demo_settings = any_settings
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load(demo_settings, desk))
    alice = {
        "Authorization": f"Bearer {asyncio.run(token_for(demo_settings, 'alice@example.com'))}"
    }
    bob = {"Authorization": f"Bearer {asyncio.run(token_for(demo_settings, 'bob@example.com'))}"}
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        assert client.get("/api/catalog").status_code == 401
        assert (
            client.get("/api/catalog", headers={"Authorization": "Bearer sb_no"}).status_code == 401
        )

        listed = client.get("/api/catalog", headers=alice).json()
        # By category, then name; an item for agents only is not listed for a requester.
        assert [i["name"] for i in listed] == ["Headset", "New laptop"]
        laptop = next(i for i in listed if i["name"] == "New laptop")
        assert laptop["fields"][0] == {
            "name": "model",
            "label": "Which model",
            "type": "choice",
            "required": True,
            "choices": ["14-inch", "16-inch"],
        }
        assert laptop["approval"] == "group"
        assert laptop["cost"] == "1200 EUR"
        assert "fulfilment_group_id" not in laptop
        assert {i["name"] for i in client.get("/api/catalog", headers=bob).json()} == {
            "Headset",
            "New laptop",
            "Server access",
        }

        bad = client.post(
            "/api/catalog/laptop/requests",
            headers=alice,
            json={"answers": {"model": "32-inch", "needed_by": "soon", "colour": "red"}},
        )
        assert bad.status_code == 400
        fields = bad.json()["detail"]["fields"]
        assert set(fields) == {"model", "needed_by", "colour"}
        assert "must be one of: 14-inch, 16-inch" in fields["model"]
        assert "must be a date" in fields["needed_by"]
        missing = client.post("/api/catalog/laptop/requests", headers=alice, json={"answers": {}})
        assert missing.status_code == 400
        assert set(missing.json()["detail"]["fields"]) == {"model", "needed_by"}
        wrong_shape = client.post(
            "/api/catalog/laptop/requests", headers=alice, json={"answers": {"model": 14}}
        )
        assert wrong_shape.status_code == 400
        assert (
            client.post("/api/catalog/laptop/requests", headers=alice, json=[]).status_code == 400
        )
        assert (
            client.post("/api/catalog/nothing/requests", headers=alice, json={}).status_code == 404
        )
        forbidden = client.post(
            "/api/catalog/Server access/requests", headers=alice, json={"answers": {"host": "db1"}}
        )
        assert forbidden.status_code == 403

        ok = client.post(
            "/api/catalog/laptop/requests",
            headers=alice,
            json={"answers": {"model": "2", "needed_by": "2026-12-24"}, "note": "for the new hire"},
        )
        assert ok.status_code == 201, ok.text
        body = ok.json()
        assert body["status"] == Status.AWAITING_APPROVAL.value
        assert body["answers"] == {"model": "16-inch", "needed_by": "2026-12-24"}
        assert body["approvers"] == ["Frank Approver"]
        ref = body["ref"]
        assert ref.startswith("REQ-")
        assert asyncio.run(requester_of(demo_settings, ref)) == "alice@example.com"

        headset = client.post("/api/catalog/Headset/requests", headers=alice, json={})
        assert headset.status_code == 201
        assert headset.json()["status"] == "new"
        assert headset.json()["group"] == "hardware"


def test_patch_cannot_move_a_request_past_its_approvals(
    demo_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load(demo_settings, desk))
    who = {
        name: {"Authorization": f"Bearer {asyncio.run(token_for(demo_settings, email))}"}
        for name, email in (
            ("alice", "alice@example.com"),
            ("bob", "bob@example.com"),
            ("frank", "frank@example.com"),
            ("admin", "grace@example.com"),
        )
    }
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        ok = client.post(
            "/api/catalog/laptop/requests",
            headers=who["alice"],
            json={"answers": {"model": "2", "needed_by": "2026-12-24"}},
        )
        ref = ok.json()["ref"]
        for name in ("alice", "bob", "frank", "admin"):
            for moved in ("new", "in_progress", "on_hold", "resolved", "closed", "approved"):
                answer = client.patch(
                    f"/api/tickets/{ref}", headers=who[name], json={"status": moved}
                )
                assert answer.status_code in (403, 404, 409), (name, moved, answer.text)
        # Assigning it is allowed, but does not start the work.
        assigned = client.patch(
            f"/api/tickets/{ref}", headers=who["bob"], json={"assignee_email": "bob@example.com"}
        )
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["status"] == "awaiting_approval"
        progress = client.get(f"/api/catalog/requests/{ref}", headers=who["alice"]).json()
        assert progress["status"] == "awaiting_approval"
        assert progress["step"] == 1
        assert progress["approvals"][0]["approved"] == 0


LOOKUP_DESK = """
groups:
  - {name: hardware, members: [bob@example.com]}
configuration_items:
  - {name: payroll-db, criticality: high}
catalog:
  - name: Mailbox delegation
    fields:
      - {name: delegate, label: Who should read it, type: person}
      - {name: system, label: Which system, type: ci, required: false}
    fulfilment: {group: hardware}
"""


def test_person_and_ci_answers_must_be_known(
    demo_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(LOOKUP_DESK, "utf-8")
    asyncio.run(load(demo_settings, desk))
    alice = {
        "Authorization": f"Bearer {asyncio.run(token_for(demo_settings, 'alice@example.com'))}"
    }
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        url = "/api/catalog/Mailbox delegation/requests"
        listed = client.get("/api/catalog", headers=alice).json()
        [item] = [i for i in listed if i["name"] == "Mailbox delegation"]
        assert [f["type"] for f in item["fields"]] == ["person", "ci"]
        bad = client.post(
            url, headers=alice, json={"answers": {"delegate": "Nobody", "system": "ledger"}}
        )
        assert bad.status_code == 400
        assert set(bad.json()["detail"]["fields"]) == {"delegate", "system"}
        ok = client.post(url, headers=alice, json={"answers": {"delegate": "Frank Approver"}})
        assert ok.status_code == 201, ok.text
        assert ok.json()["answers"] == {"delegate": "frank@example.com"}
        both = client.post(
            url,
            headers=alice,
            json={"answers": {"delegate": "BOB@example.com", "system": "Payroll-DB"}},
        )
        assert both.json()["answers"] == {"delegate": "bob@example.com", "system": "payroll-db"}
