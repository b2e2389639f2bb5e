"""Catalog automations over real HTTP: a fake identity service answers the signed webhook.

The service is started by the test on 127.0.0.1; it checks each POST's HMAC signature and
answers per path: a reset that works, one refused (422), one that fails once (503) and then
works, and one too slow for the timeout. Tasks and approvals are read and completed through
`/api/catalog/requests/...` as an integration would.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from tests.e2e.test_api import token_for
from tests.e2e.test_cmdb_api import load
from tests.fakes.identity_service import SECRET, FakeIdentityService


def desk(url: str) -> str:
    return f"""
groups:
  - {{name: hardware, members: [bob@example.com]}}
catalog:
  - name: Password reset
    aliases: [reset]
    fulfilment:
      group: hardware
      tasks:
        - {{name: Reset in the identity service, automation: true}}
        - {{name: Call the user, group: hardware}}
    automation: {{url: "{url}/reset"}}
  - name: Refused reset
    fulfilment: {{group: hardware, tasks: [{{name: Reset, automation: true}}]}}
    automation: {{url: "{url}/refuse"}}
  - name: Flaky reset
    fulfilment: {{group: hardware, tasks: [{{name: Reset, automation: true}}]}}
    automation: {{url: "{url}/flaky"}}
  - name: Slow reset
    fulfilment: {{group: hardware, tasks: [{{name: Reset, automation: true}}]}}
    automation: {{url: "{url}/slow"}}
"""


def wait_for(client: TestClient, ref: str, headers: dict[str, str], status: str) -> dict[str, Any]:
    """The request once its first task reaches `status`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = client.get(f"/api/catalog/requests/{ref}", headers=headers)
        assert got.status_code == 200, got.text
        data: dict[str, Any] = got.json()
        if data["tasks"] and data["tasks"][0]["status"] == status:
            return data
        time.sleep(0.05)
    raise AssertionError(f"{ref}'s first task never became {status}: {data}")


def test_automations_against_a_fake_identity_service(
    any_settings: Settings,
    understander: Understander,
    identity_service: FakeIdentityService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("WEBHOOK_TIMEOUT", "0.5")
    # Two tries, so the slow service is given up on within seconds.
    settings = any_settings.model_copy(update={"outbox_max_attempts": 2})
    path = tmp_path / "desk.yml"
    path.write_text(desk(identity_service.url), "utf-8")
    asyncio.run(load(settings, path))
    alice = {"Authorization": f"Bearer {asyncio.run(token_for(settings, 'alice@example.com'))}"}
    bob = {"Authorization": f"Bearer {asyncio.run(token_for(settings, 'bob@example.com'))}"}
    dan = {"Authorization": f"Bearer {asyncio.run(token_for(settings, 'dan@example.com'))}"}
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        placed = client.post("/api/catalog/reset/requests", headers=alice, json={"answers": {}})
        assert placed.status_code == 201, placed.text
        ref = placed.json()["ref"]

        done = wait_for(client, ref, alice, "done")
        assert done["tasks"][0]["result"] == "HTTP 200: reset link sent"
        assert done["tasks"][1]["status"] == "open"
        assert done["status"] != "resolved"
        [(headers, body)] = identity_service.posts("/reset")
        sent = json.loads(body)
        assert sent["request"] == ref
        assert sent["task"] == f"{ref}/1"
        assert sent["requester"]["email"] == "alice@example.com"
        assert headers["X-Switchboard-Delivery"].startswith("sb-")

        # Someone else's request is not found; the requester may not complete a task.
        assert client.get(f"/api/catalog/requests/{ref}", headers=dan).status_code == 404
        mine = client.post(f"/api/catalog/requests/{ref}/tasks/2/complete", headers=alice, json={})
        assert mine.status_code == 403
        assert "Only agents of hardware" in mine.json()["detail"]
        missing = client.post(f"/api/catalog/requests/{ref}/tasks/7/complete", headers=bob, json={})
        assert missing.status_code == 404
        bad = client.post(f"/api/catalog/requests/{ref}/tasks/2/complete", headers=bob, json=[])
        assert bad.status_code == 400
        assert client.get("/api/catalog/requests/INC-1", headers=bob).status_code in (400, 422)
        finished = client.post(
            f"/api/catalog/requests/{ref}/tasks/2/complete", headers=bob, json={"note": "called"}
        )
        assert finished.status_code == 200, finished.text
        assert finished.json()["status"] == "resolved"
        again = client.post(f"/api/catalog/requests/{ref}/tasks/2/complete", headers=bob, json={})
        assert again.status_code == 409

        refused = client.post("/api/catalog/Refused reset/requests", headers=alice, json={})
        failed = wait_for(client, refused.json()["ref"], alice, "failed")
        assert failed["tasks"][0]["result"] == "HTTP 422: unknown user"
        assert failed["status"] == "new"

        flaky = client.post("/api/catalog/Flaky reset/requests", headers=alice, json={})
        recovered = wait_for(client, flaky.json()["ref"], alice, "done")
        assert recovered["tasks"][0]["result"] == "HTTP 200: try 2"
        first, second = identity_service.posts("/flaky")
        # A retry carries the same delivery id, so the service can tell it is a repeat.
        assert first[0]["X-Switchboard-Delivery"] == second[0]["X-Switchboard-Delivery"]
        assert recovered["status"] == "resolved"

        slow = client.post("/api/catalog/Slow reset/requests", headers=alice, json={})
        timed_out = wait_for(client, slow.json()["ref"], alice, "failed")
        assert timed_out["tasks"][0]["result"] == "gave up after retries: timed out"
        assert len(identity_service.posts("/slow")) == 2
        # An agent did it by hand: the failed task is completed and the request resolves.
        by_hand = client.post(
            f"/api/catalog/requests/{slow.json()['ref']}/tasks/1/complete", headers=bob, json={}
        )
        assert by_hand.status_code == 200
        assert by_hand.json()["status"] == "resolved"
