"""A catalog order on Slack, end to end, where the automation fails and an agent takes over.

The form is filled in a DM, the manager approves with the button in his DM, the identity
service (a local fake over HTTP) refuses the automation, the hardware channel hears of it
with a Done button, and an agent completes both tasks there; the requester hears it is done.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from store.enums import Status
from tests.e2e.conftest import post_json, post_payload, settle
from tests.e2e.test_catalog_telegram import manager
from tests.e2e.test_cmdb_api import load
from tests.e2e.test_slack import USERS, click, dm, seen_by, status_of, with_slack
from tests.fakes.identity_service import SECRET, FakeIdentityService
from tests.fakes.slack_api import FakeSlackApi, Posted

HARDWARE = "C0HARDWARE"


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    api = FakeSlackApi(USERS)
    with api:
        yield api


def desk(url: str) -> str:
    return f"""
groups:
  - {{name: hardware, members: [bob@example.com], slack_channel: {HARDWARE}}}
catalog:
  - name: New laptop
    aliases: [laptop]
    fields:
      - {{name: model, label: Which model, type: choice, choices: [14-inch, 16-inch]}}
    approval: manager
    fulfilment:
      group: hardware
      tasks:
        - {{name: Order from the supplier, automation: true}}
        - {{name: Set up the laptop, group: hardware}}
    automation: {{url: "{url}/refuse"}}
"""


def in_thread(event: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
    event["event"]["thread_ts"] = first["event"]["ts"]
    return event


def posted(api: FakeSlackApi, channel: str, words: str) -> Posted:
    """The latest message in `channel` holding `words` (waits for it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [p for p in api.in_channel(channel) if words in p.text + json.dumps(p.blocks)]
        if found:
            return found[-1]
        time.sleep(0.02)
    raise AssertionError(
        f"never saw {words!r} in {channel}: {[(p.channel, p.text) for p in api.posted]}"
    )


def test_a_refused_automation_is_done_by_hand_from_the_group_channel(
    demo_settings: Settings,
    understander: Understander,
    slack: FakeSlackApi,
    identity_service: FakeIdentityService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    path = tmp_path / "desk.yml"
    path.write_text(desk(identity_service.url), "utf-8")
    asyncio.run(load(demo_settings, path))
    asyncio.run(manager(demo_settings))
    app = create_app(
        with_slack(demo_settings, slack), overrides=Overrides(understander=understander)
    )
    with TestClient(app) as client:
        scenario(client, slack, identity_service)


def scenario(client: TestClient, fake: FakeSlackApi, service: FakeIdentityService) -> None:

    # Dan has written to the bot before, so his DM is where his approvals go.
    post_json(client, dm("hi", "U0DAN", n=1))
    order = dm("I need a new laptop", "U0ALICE", n=2)
    post_json(client, order)
    settle(client)
    assert "Which model?" in seen_by(fake, "U0ALICE")[-1]
    # The bot answers a DM in its thread, and the form goes on there.
    post_json(client, in_thread(dm("1", "U0ALICE", n=3), order))
    settle(client)
    assert "Submit it?" in seen_by(fake, "U0ALICE")[-1], seen_by(fake, "U0ALICE")
    post_json(client, in_thread(dm("yes", "U0ALICE", n=4), order))
    settle(client)
    assert "waiting for approval by Dan Requester" in seen_by(fake, "U0ALICE")[-1]

    ask = posted(fake, "D0DAN", "asks for New laptop (REQ-1)")
    assert post_payload(client, click(ask, "approve_request", "U0DAN", n=5)).status_code == 200
    settle(client)

    # The identity service refused: the hardware channel hears why, with a Done button.
    failed = posted(fake, HARDWARE, "REQ-1/1 (Order from the supplier) failed")
    assert "HTTP 422: unknown user" in failed.text
    assert len(service.posts("/refuse")) == 1
    assert status_of(client, "REQ-1") is Status.NEW

    assert post_payload(client, click(failed, "complete_task", "U0BOB", n=6)).status_code == 200
    settle(client)
    # The clicked message is updated for the channel, with the next task's Done button.
    task = posted(fake, HARDWARE, "Next: task REQ-1/2: Set up the laptop.")
    assert task.ts == failed.ts
    assert "Bob Agent completed REQ-1/1" in json.dumps(task.blocks)
    assert post_payload(client, click(task, "complete_task", "U0BOB", n=7)).status_code == 200
    settle(client)
    assert status_of(client, "REQ-1") is Status.RESOLVED
    assert any(t.startswith("REQ-1 is done") for t in seen_by(fake, "U0ALICE"))
