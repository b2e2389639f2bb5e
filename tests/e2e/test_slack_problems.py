"""Problem control and the change freeze through Slack: signed webhooks in, the fake Web API out.

Recurring reports are offered to the owner group as a problem, the problem becomes a known
error, and the next reporter is told its workaround; a freeze refuses a normal change and lets
an emergency one in with a second approver, and its review is opened when it completes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from store.enums import ChangeType, Status, TicketKind
from tests.e2e.conftest import post_json, post_payload, run, settle
from tests.e2e.test_slack import USERS, app_for, click, dm, seen_by, status_of
from tests.fakes.slack_api import FakeSlackApi

__all__ = ["app_for"]  # the harness fixture, shared with the main Slack tests


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    users = {**USERS, "U0ERIN": {"email": "erin@example.com", "real_name": "Erin Agent"}}
    api = FakeSlackApi(users)
    with api:
        yield api


def _say(client: TestClient, text: str, user: str, n: int) -> None:
    assert post_json(client, dm(text, user, n=n)).status_code == 200
    settle(client)


def test_recurring_reports_become_a_known_error_that_answers_the_next_reporter(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    # Erin (infrastructure, VPN's owner group) has written to the bot before.
    _say(client, "hello", "U0ERIN", 1)
    _say(client, "VPN connection drops every hour", "U0ALICE", 2)
    _say(client, "our VPN connection drops every hour", "U0DAN", 3)
    _say(client, "my VPN connection drops every hour", "U0ALICE", 4)
    offer = next(p for p in fake.in_channel("D0ERIN") if "Open a problem for them" in p.text)
    assert "INC-1, INC-2, INC-3" in offer.text
    assert post_payload(client, click(offer, "accept_problem", "U0ERIN", n=5)).status_code == 200
    settle(client)
    assert status_of(client, "PRB-1") is not Status.CLOSED
    _say(
        client,
        "workaround PRB-1 connect through the backup gateway; symptoms: vpn drops",
        "U0ERIN",
        6,
    )
    assert "PRB-1 is a known error" in seen_by(fake, "U0ERIN")[-1]
    _say(client, "my VPN connection drops every few minutes", "U0CAROL", 7)
    told = " ".join(seen_by(fake, "U0CAROL"))
    assert "INC-4" in told
    assert "Workaround: connect through the backup gateway" in told


def test_a_freeze_refuses_a_normal_change_and_takes_an_emergency_one_with_a_review(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    from store.changes import FreezeWindow

    client = app_for(demo_settings)

    async def prepare(uow: Any) -> list[str]:
        await uow.changes.upsert(
            FreezeWindow,
            "quarter-close",
            starts_at=datetime(2027, 3, 31, tzinfo=UTC),
            ends_at=datetime(2027, 4, 2, tzinfo=UTC),
            services=["CRM"],
        )
        bob = await uow.people.by_email("bob@example.com")
        crm = await uow.services.by_name("CRM")
        refs = []
        for title, kind in (("Patch CRM", ChangeType.NORMAL), ("Hotfix CRM", ChangeType.EMERGENCY)):
            t = await uow.tickets.create(
                kind=TicketKind.CHANGE,
                title=title,
                description=title,
                requester=bob,
                status=Status.APPROVED,
                change_type=kind,
                service_id=crm.id,
                updated_at=datetime.now(UTC),
            )
            refs.append(t.ref)
        await uow.commit()
        return refs

    normal, urgent = run(client, prepare)
    _say(client, f"schedule {normal} 2027-03-31 22:00 to 23:00", "U0BOB", 1)
    assert "falls in the freeze quarter-close" in seen_by(fake, "U0BOB")[-1]
    _say(client, f"schedule {urgent} 2027-03-31 22:00 to 23:00", "U0BOB", 2)
    assert "a second approver, not its requester" in seen_by(fake, "U0BOB")[-1]
    _say(client, f"schedule {urgent} 2027-03-31 22:00 to 23:00", "U0FRANK", 3)
    assert "enters the freeze quarter-close with your approval" in seen_by(fake, "U0FRANK")[-1]
    _say(client, f"implement {urgent}", "U0BOB", 4)
    _say(client, f"complete {urgent} successful", "U0BOB", 5)
    assert "post-implementation review is due" in seen_by(fake, "U0BOB")[-1]
    assert any(
        f"review of {urgent} (an emergency change) is due" in p.text
        for p in fake.in_channel("C0APPR")
    )
    assert status_of(client, urgent) is Status.RESOLVED
