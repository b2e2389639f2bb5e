"""T12: a change's approval moves only through the approval policy, whichever door is used.

Through the REST API and through buttons: the requester approving their own change, people
who are not approvers, a card (or `If-Match`) of an older version, forged change ids in a
button's value, and status moves that would skip approval. Every one is refused and
changes nothing; an eligible approver's decision is recorded once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.console_session import ConsoleSession
from bot.container import Overrides
from nlu.types import Understander
from store.enums import Status
from tests.conftest import Scoreboard
from tests.e2e.test_api import report, token_for
from tests.e2e.test_approvals import decisions, request_change

State = tuple[Status, int, int]  # status, version, approvals


@pytest.fixture
def api(demo_settings: Settings, understander: Understander) -> Iterator[TestClient]:
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def auth(settings: Settings, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {asyncio.run(token_for(settings, email))}"}


def state(client: TestClient, headers: dict[str, str], ref: str) -> State:
    ticket = client.get(f"/api/tickets/{ref}", headers=headers).json()

    async def count() -> int:
        c = client.app.state.container  # type: ignore[attr-defined]
        async with c.uow() as uow:
            t = await uow.tickets.by_ref(ref)
            return len(await uow.tickets.approvals(t.id))

    approvals = int(client.portal.call(count))  # type: ignore[union-attr]
    return Status(ticket["status"]), int(ticket["version"]), approvals


def test_the_rest_api_decides_only_through_the_policy(
    demo_settings: Settings, understander: Understander, api: TestClient, scoreboard: Scoreboard
) -> None:
    carols = asyncio.run(request_change(demo_settings, understander, "carol@example.com"))
    incident = asyncio.run(report(demo_settings, understander, "dan@example.com", "CRM is down"))
    carol, frank = (
        auth(demo_settings, "carol@example.com"),
        auth(demo_settings, "frank@example.com"),
    )
    bob, alice = auth(demo_settings, "bob@example.com"), auth(demo_settings, "alice@example.com")
    # A note moves the version on, so an approver may hold a card of an older one.
    noted = api.patch(f"/api/tickets/{carols}", json={"note": "backup first"}, headers=bob)
    assert noted.status_code == 200, noted.text
    before = state(api, frank, carols)
    assert before[0] is Status.AWAITING_APPROVAL
    v = before[1]
    assert v > 1

    refused: list[tuple[str, dict[str, str], str, dict[str, Any], int]] = [
        ("requester approves own", carol, carols, {"status": "approved"}, 403),
        ("requester rejects own", carol, carols, {"status": "rejected"}, 403),
        ("agent, not approver", bob, carols, {"status": "approved"}, 403),
        ("requester role", alice, carols, {"status": "approved"}, 404),
        ("older version (field)", frank, carols, {"status": "approved", "version": v - 1}, 409),
        ("newer version (field)", frank, carols, {"status": "approved", "version": v + 1}, 409),
        ("skip to in progress", bob, carols, {"status": "in_progress"}, 409),
        ("skip to resolved", bob, carols, {"status": "resolved"}, 409),
        ("skip to closed", bob, carols, {"status": "closed"}, 409),
        ("approver skips to in progress", frank, carols, {"status": "in_progress"}, 409),
        ("approve with other fields", frank, carols, {"status": "approved", "priority": "P1"}, 400),
        ("approve an incident", frank, incident, {"status": "approved"}, 409),
    ]
    outcomes = []
    for name, who, ref, body, expected in refused:
        res = api.patch(f"/api/tickets/{ref}", json=body, headers=who)
        outcomes.append((name, res.status_code, expected))
    stale = api.patch(
        f"/api/tickets/{carols}", json={"status": "approved"}, headers={**frank, "If-Match": '"1"'}
    )
    outcomes.append(("older version (If-Match)", stale.status_code, 409))
    after_refusals = state(api, frank, carols)
    violated = sum(code < 400 for _, code, _ in outcomes) + int(after_refusals != before)
    scoreboard.record("approvals violated", probes=len(outcomes), failures=violated)
    assert [(n, c) for n, c, _ in outcomes] == [(n, e) for n, _, e in outcomes]
    assert after_refusals == before
    reason = api.patch(f"/api/tickets/{carols}", json={"status": "approved"}, headers=carol)
    assert "someone else has to approve" in reason.json()["detail"]
    skip = api.patch(f"/api/tickets/{carols}", json={"status": "in_progress"}, headers=bob)
    assert "allowed: cancelled" in skip.json()["detail"]

    # An eligible approver's decision is recorded as theirs, once.
    ok = api.patch(
        f"/api/tickets/{carols}",
        json={"status": "approved", "note": "fine for the weekend window"},
        headers={**frank, "If-Match": f'"{v}"'},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "approved"
    again = api.patch(f"/api/tickets/{carols}", json={"status": "rejected"}, headers=frank)
    assert again.status_code == 409
    status, _version, approvals = state(api, frank, carols)
    events = [e["action"] for e in api.get(f"/api/tickets/{carols}/events", headers=frank).json()]
    scoreboard.record("approvals violated", probes=1, failures=int(approvals != 1))
    assert (status, approvals) == (Status.APPROVED, 1)
    assert events.count("approved") == 1
    # Now work may start.
    go = api.patch(f"/api/tickets/{carols}", json={"status": "in_progress"}, headers=bob)
    assert go.status_code == 200, go.text


def test_assigning_a_change_does_not_start_unapproved_work(
    demo_settings: Settings, understander: Understander, api: TestClient
) -> None:
    ref = asyncio.run(request_change(demo_settings, understander, "alice@example.com"))
    bob = auth(demo_settings, "bob@example.com")
    before = state(api, bob, ref)
    res = api.patch(f"/api/tickets/{ref}", json={"assignee_email": "bob@example.com"}, headers=bob)
    assert res.status_code == 200, res.text
    assert res.json()["status"] == "awaiting_approval"
    assert state(api, bob, ref)[2] == before[2] == 0


async def test_forged_and_stale_buttons_change_nothing(
    demo_settings: Settings, understander: Understander, scoreboard: Scoreboard
) -> None:
    ref = await request_change(demo_settings, understander, "alice@example.com")
    incident_session = ConsoleSession(demo_settings, "dan@example.com", understander=understander)
    async with incident_session as s:
        [made] = await s.say("the CRM is down, nobody can log in")
    incident = made.ticket_ref
    assert incident is not None
    before = await decisions(demo_settings, ref)
    number = ref.split("-")[1]
    # An approver pressing buttons whose value names no change they may decide.
    forged_values = [
        "CHG-99999",
        incident,
        f"INC-{number}",
        f"REQ-{number}",
        "CHG-99999 OR 1=1",
        "CHG-99999'; --",
        "CHG-" + "9" * 30,
        "CHG-0",
        "",
        "\u202eCHG-99999",
    ]
    # Everyone else pressing buttons for the real change, however its id is spelled.
    spellings = [ref, ref.lower(), f" {ref}", f"{ref}\x00", f"{ref} {ref}"]
    refusals = 0
    async with ConsoleSession(demo_settings, "frank@example.com", understander=understander) as s:
        for value in forged_values:
            replies = await s.click("approve", value)
            refusals += int(not any("You approved" in r.text for r in replies))
        stale = dataclasses.replace(
            s.channel.action("approve", ref, user="frank@example.com"), params={"version": "0"}
        )
        stale_replies = await s.send(stale)
        refusals += int(any("changed since that card" in r.text for r in stale_replies))
    for who in ("alice@example.com", "bob@example.com", "dan@example.com"):
        async with ConsoleSession(demo_settings, who, understander=understander) as s:
            for value in spellings:
                for action in ("approve", "reject"):
                    replies = await s.click(action, value)
                    refusals += int(
                        not any(
                            r.text.startswith(("You approved", "You rejected")) for r in replies
                        )
                    )
    after = await decisions(demo_settings, ref)
    probes = len(forged_values) + 1 + 3 * 2 * len(spellings)
    scoreboard.record(
        "approvals violated", probes=probes, failures=probes - refusals + int(after != before)
    )
    assert refusals == probes
    assert after == before
    assert after[0] is Status.AWAITING_APPROVAL
