"""Slack through the whole pipeline: signed webhooks in, the fake Slack Web API out.

Requests are the recorded payloads of `tests/data/payloads/slack/` with their values
adjusted (user, text, ids) and signed like Slack signs them; replies are read from what
reached the local Slack API through the real slack-sdk client.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings, SlackSettings
from bot.container import Overrides
from channels.slack.render import action_name
from nlu.types import Understander
from store.enums import Status
from store.models import InboxEvent
from tests.e2e.conftest import (
    SECRET,
    post_form,
    post_json,
    post_payload,
    run,
    settle,
    signed_headers,
)
from tests.fakes.slack_api import BOT_USER, FakeSlackApi, Posted
from tests.payloads import load, raw

INCIDENTS, APPROVALS, GENERAL = "C0INC", "C0APPR", "C0GENERAL"
USERS = {
    "U0ALICE": {"email": "alice@example.com", "real_name": "Alice Example"},
    "U0DAN": {"email": "dan@example.com", "real_name": "Dan Requester"},
    "U0BOB": {"email": "bob@example.com", "real_name": "Bob Agent"},
    "U0CAROL": {"email": "carol@example.com", "real_name": "Carol Approver"},
    "U0FRANK": {"email": "frank@example.com", "real_name": "Frank Approver"},
}


# -- harness --------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(USERS) as api:
        yield api


def with_slack(settings: Settings, fake: FakeSlackApi) -> Settings:
    slack = SlackSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="xoxb-e2e-token",
        signing_secret=SECRET,
        api_url=fake.api_url.rstrip("/"),  # the settings add the slash back
        incidents_channel=INCIDENTS,
        approvals_channel=APPROVALS,
    )
    return settings.model_copy(update={"slack": slack})


@pytest.fixture
def app_for(
    fake: FakeSlackApi, understander: Understander
) -> Iterator[Callable[[Settings], TestClient]]:
    clients: list[TestClient] = []

    def start(settings: Settings) -> TestClient:
        app = create_app(with_slack(settings, fake), overrides=Overrides(understander=understander))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for c in clients:
        c.__exit__(None, None, None)


def mention(text: str, user: str, *, n: int, channel: str = GENERAL) -> dict[str, Any]:
    body = load("slack", "events_api_app_mention.json")
    ts = f"1761000{n:03d}.000100"
    body["event"].update(
        text=f"<@{BOT_USER}> {text}", user=user, ts=ts, event_ts=ts, channel=channel
    )
    body["event_id"] = f"Ev0MENTION{n}"
    body["authed_users"] = [BOT_USER]
    return body


def dm(text: str, user: str, *, n: int) -> dict[str, Any]:
    body = load("slack", "events_api_message_im.json")
    ts = f"1762000{n:03d}.000200"
    body["event"].update(text=text, user=user, ts=ts, event_ts=ts, channel="D" + user[1:])
    body["event_id"] = f"Ev0DM{n}"
    body["authorizations"][0].update(user_id=BOT_USER, team_id="T111")
    return body


def click(card: Posted, action: str, user: str, *, n: int) -> dict[str, Any]:
    """A `block_actions` payload for pressing `action` on a card the bot posted."""
    body = load("slack", "interactivity_block_actions_button.json")
    row = next(
        b
        for b in card.blocks
        if b["type"] == "actions"
        and any(action_name(e["action_id"]) == action for e in b["elements"])
    )
    button = next(e for e in row["elements"] if action_name(e["action_id"]) == action)
    body["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T111"}
    body["container"] = {
        "type": "message",
        "message_ts": card.ts,
        "channel_id": card.channel,
        "is_ephemeral": False,
    }
    body["channel"] = {"id": card.channel, "name": "ops"}
    body["trigger_id"] = f"{n}.{n}.trigger"
    body["actions"] = [
        {
            "action_id": button["action_id"],
            "block_id": row["block_id"],
            "text": button["text"],
            "value": button["value"],
            "type": "button",
            "action_ts": f"1763000{n:03d}.000300",
        }
    ]
    return body


def card_in(fake: FakeSlackApi, channel: str, ref: str) -> Posted:
    found = [p for p in fake.in_channel(channel) if ref in json.dumps(p.blocks)]
    assert found, f"no card about {ref} in {channel}: {[p.text for p in fake.posted]}"
    return found[0]


def seen_by(fake: FakeSlackApi, user: str) -> list[str]:
    """What only `user` was shown: their DM with the bot and messages ephemeral to them."""
    mine = fake.in_channel("D" + user[1:]) + [e for e in fake.ephemeral if e.shown_to == user]
    return [p.text for p in sorted(mine, key=lambda p: float(p.ts))]


def inbox_rows(client: TestClient) -> int:
    async def count(uow: Any) -> int:
        return int(await uow.session.scalar(select(func.count()).select_from(InboxEvent)) or 0)

    return int(run(client, count))


def events_of(client: TestClient, ref: str) -> list[tuple[str, str, str | None, str | None]]:
    async def query(uow: Any) -> list[tuple[str, str, str | None, str | None]]:
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None, ref
        return [
            (e.action, e.channel, e.external_user, e.actor.email if e.actor else None)
            for e in await uow.tickets.events(ticket.id)
        ]

    return list(run(client, query))


def status_of(client: TestClient, ref: str) -> Status:
    async def query(uow: Any) -> Status:
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None, ref
        return Status(ticket.status)

    return Status(run(client, query))


# -- the scenario, in both modes ------------------------------------------------------------


def test_mention_approval_and_resolution_by_button(
    any_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(any_settings)

    # An employee reports an outage by @mentioning the bot in a channel.
    report = mention("The VPN is down for the whole office, nobody can work!!", "U0ALICE", n=1)
    assert post_json(client, report).status_code == 200
    fake.wait_for("/api/chat.postMessage", 2)
    settle(client)
    [answer] = fake.in_channel(GENERAL)
    assert answer.thread_ts == report["event"]["ts"]
    assert "INC-1" in answer.text
    major = card_in(fake, INCIDENTS, "INC-1")
    assert major.thread_ts is None

    # An approver asks for a change; it goes to the approvals channel.
    change = mention("restart the mail server on Saturday 22:00", "U0CAROL", n=2)
    assert post_json(client, change).status_code == 200
    fake.wait_for("/api/chat.postMessage", 4)
    settle(client)
    ask = copy.deepcopy(card_in(fake, APPROVALS, "CHG-1"))  # as the approvers first saw it

    # An agent who is no approver, and the requester herself, are refused privately.
    assert post_payload(client, click(ask, "approve", "U0BOB", n=3)).status_code == 200
    assert post_payload(client, click(ask, "approve", "U0CAROL", n=4)).status_code == 200
    settle(client)
    assert status_of(client, "CHG-1") is Status.AWAITING_APPROVAL
    assert "Only approvers" in seen_by(fake, "U0BOB")[-1]
    assert "someone else has to approve" in seen_by(fake, "U0CAROL")[-1]
    assert fake.sent("chat.update") == []

    # Another approver decides; the card changes in place for everyone.
    assert post_payload(client, click(ask, "approve", "U0FRANK", n=5)).status_code == 200
    settle(client)
    assert status_of(client, "CHG-1") is Status.APPROVED
    [update] = fake.sent("chat.update")
    assert (update["channel"], update["ts"]) == (APPROVALS, ask.ts)
    decided = json.dumps(update["blocks"])
    assert "<@U0FRANK>" in decided or "Frank Approver" in decided
    assert "<!date^" in decided
    assert '"actions"' not in decided
    told = [p for p in fake.in_channel(GENERAL) if p.thread_ts == change["event"]["ts"]]
    assert any("approved by Frank Approver" in p.text for p in told)

    # A second click on the card as it was (a client that did not refresh) changes nothing.
    assert post_payload(client, click(ask, "reject", "U0CAROL", n=7)).status_code == 200
    settle(client)
    assert status_of(client, "CHG-1") is Status.APPROVED
    assert len(fake.sent("chat.update")) == 1

    # An agent resolves the incident from the major-incident card.
    assert post_payload(client, click(major, "resolve", "U0BOB", n=6)).status_code == 200
    settle(client)
    assert status_of(client, "INC-1") is Status.RESOLVED
    assert [(u["channel"], u["ts"]) for u in fake.sent("chat.update")][1] == (INCIDENTS, major.ts)

    inc = events_of(client, "INC-1")
    assert ("created", "slack", "U0ALICE", "alice@example.com") in inc
    assert ("resolved", "slack", "U0BOB", "bob@example.com") in inc
    chg = events_of(client, "CHG-1")
    assert ("created", "slack", "U0CAROL", "carol@example.com") in chg
    assert ("approved", "slack", "U0FRANK", "frank@example.com") in chg
    assert [a for a, *_ in chg].count("approved") == 1
    assert "rejected" not in [a for a, *_ in chg]


def test_a_normal_change_needs_two_members_of_its_board(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    from store.changes import ChangeBoard
    from store.models import Group

    client = app_for(demo_settings)

    async def board(uow: Any) -> None:
        group = await uow.desk.named(Group, "change-board")
        await uow.changes.upsert(
            ChangeBoard, "mail-cab", group_id=group.id, services=["Email"], quorum=2
        )
        await uow.commit()

    run(client, board)
    change = mention("restart the mail server on Saturday 22:00", "U0DAN", n=1)
    assert post_json(client, change).status_code == 200
    fake.wait_for("/api/chat.postMessage", 2)
    settle(client)
    ask = copy.deepcopy(card_in(fake, APPROVALS, "CHG-1"))
    assert post_payload(client, click(ask, "approve", "U0BOB", n=2)).status_code == 200
    assert post_payload(client, click(ask, "approve", "U0FRANK", n=3)).status_code == 200
    settle(client)
    assert status_of(client, "CHG-1") is Status.AWAITING_APPROVAL
    assert "Only approvers" in seen_by(fake, "U0BOB")[-1]
    assert "needs more approvals: mail-cab 1 of 2" in seen_by(fake, "U0FRANK")[-1]
    # The shared card was redrawn with its buttons, so the next member decides on it.
    redrawn = card_in(fake, APPROVALS, "CHG-1")
    assert redrawn.updates
    assert '"actions"' in json.dumps(redrawn.blocks)
    assert post_payload(client, click(redrawn, "approve", "U0CAROL", n=4)).status_code == 200
    settle(client)
    assert status_of(client, "CHG-1") is Status.APPROVED
    approvals = [a for a, *_ in events_of(client, "CHG-1")].count("approved")
    assert approvals == 2


# -- ingress --------------------------------------------------------------------------------


def test_dm_becomes_a_ticket_answered_in_its_thread(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    body = dm("outlook keeps crashing since this morning", "U0DAN", n=1)
    assert post_json(client, body).status_code == 200
    settle(client)
    [reply] = fake.in_channel("D0DAN")
    assert reply.thread_ts == body["event"]["ts"]
    assert "INC-1" in reply.text
    assert reply.metadata is not None
    assert events_of(client, "INC-1")[0] == ("created", "slack", "U0DAN", "dan@example.com")


def test_retried_deliveries_make_one_ticket_and_one_reply(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    body = dm("my laptop screen is flickering", "U0DAN", n=2)
    statuses = [post_json(client, body, retry=r).status_code for r in (None, 1, 2, 3)]
    statuses += [post_json(client, body).status_code for _ in range(6)]  # replayed in time
    assert statuses == [200] * 10
    # Only the retries of another event arrive: the first retry is processed, not dropped.
    other = dm("outlook keeps crashing since this morning", "U0DAN", n=3)
    statuses = [post_json(client, other, retry=r).status_code for r in (1, 2, 3)]
    assert statuses == [200, 200, 200]
    settle(client)
    assert inbox_rows(client) == 2
    answers = fake.in_channel("D0DAN")
    assert sorted(re.findall(r"INC-\d+", " ".join(p.text for p in answers))) == ["INC-1", "INC-2"]
    assert [p.thread_ts for p in answers].count(body["event"]["ts"]) == 1


def test_concurrent_retries_are_stored_once(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    body = dm("the printer on floor 2 is broken", "U0DAN", n=4)
    codes: list[int] = []

    def send(retry: int | None) -> None:
        codes.append(post_json(client, body, retry=retry).status_code)

    threads = [threading.Thread(target=send, args=(r,)) for r in (None, 1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle(client)
    assert codes == [200] * 4
    assert inbox_rows(client) == 1
    assert len(fake.in_channel("D0DAN")) == 1


def forged_requests() -> list[tuple[str, bytes, dict[str, str]]]:
    """(name, body, headers) of requests that must all be refused."""
    body = json.dumps(dm("the VPN is down for everyone", "U0DAN", n=9)).encode()
    now = time.time()
    good = signed_headers(body, content_type="application/json")
    ssl_check = b"ssl_check=1&token=verification_token"
    verification = raw("slack", "events_api_url_verification.json")
    return [
        ("unsigned", body, {"content-type": "application/json"}),
        (
            "wrong secret",
            body,
            signed_headers(body, secret="x" * 32, content_type="application/json"),
        ),
        ("301 s old", body, signed_headers(body, at=now - 301, content_type="application/json")),
        # Whole seconds: int(now + 301) may be only 300.x s ahead once the request arrives.
        ("302 s ahead", body, signed_headers(body, at=now + 302, content_type="application/json")),
        ("body changed", body.replace(b"VPN", b"NPV"), good),
        ("signature of another body", body + b" ", good),
        ("no timestamp", body, {k: v for k, v in good.items() if k != "x-slack-request-timestamp"}),
        ("no signature", body, {k: v for k, v in good.items() if k != "x-slack-signature"}),
        (
            "v1 scheme",
            body,
            {**good, "x-slack-signature": good["x-slack-signature"].replace("v0=", "v1=")},
        ),
        (
            "ssl_check, bad signature",
            ssl_check,
            {**signed_headers(b"other", content_type="application/x-www-form-urlencoded")},
        ),
        ("url_verification unsigned", verification, {"content-type": "application/json"}),
    ]


def test_forged_replayed_and_unsigned_requests_are_refused(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    for name, body, headers in forged_requests():
        res = client.post("/slack/events", content=body, headers=headers)
        assert res.status_code == 401, name
    # A genuine event after the forgeries: once its reply has gone, anything a forgery had
    # slipped into the pipeline ahead of it would have been handled too.
    assert post_json(client, dm("my laptop will not boot", "U0DAN", n=10)).status_code == 200
    settle(client)
    assert inbox_rows(client) == 1
    [reply] = fake.in_channel("D0DAN")
    assert "VPN" not in reply.text
    metrics = client.get("/metrics").text
    assert 'switchboard_inbox_events_total{outcome="rejected",platform="slack"}' in metrics


def test_url_verification_and_ssl_check_are_answered(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    challenge = load("slack", "events_api_url_verification.json")
    res = post_json(client, challenge)
    assert res.status_code == 200
    assert res.json() == {"challenge": challenge["challenge"]}
    assert post_form(client, {"ssl_check": "1", "token": "x"}).status_code == 200
    assert inbox_rows(client) == 0


def test_ignored_events_are_acknowledged(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    for name in ("events_api_message_changed.json", "events_api_message_channel.json"):
        assert post_json(client, load("slack", name)).status_code == 200
    own = dm("I've logged INC-9", BOT_USER, n=5)
    assert post_json(client, own).status_code == 200
    malformed = dm("x", "U0DAN", n=6)
    malformed["event"] = ["not", "an", "event"]
    assert post_json(client, malformed).status_code == 400
    res = client.post(
        "/slack/events",
        content=b"{not json",
        headers=signed_headers(b"{not json", content_type="application/json"),
    )
    assert res.status_code == 400
    assert inbox_rows(client) == 0


def malformed_requests() -> list[tuple[str, bytes, str]]:
    """(name, body, content type) of signed requests that are no Slack request."""
    event = dm("the VPN is down", "U0DAN", n=20)
    click = load("slack", "interactivity_block_actions_button.json")
    submitted = load("slack", "interactivity_view_submission.json")
    challenge = load("slack", "events_api_url_verification.json")

    def changed(doc: dict[str, Any], **fields: Any) -> dict[str, Any]:
        out = copy.deepcopy(doc)
        for key, value in fields.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    def without_action_id() -> dict[str, Any]:
        out = copy.deepcopy(click)
        del out["actions"][0]["action_id"]
        return out

    def user_as_list() -> dict[str, Any]:
        out = copy.deepcopy(event)
        out["event"]["user"] = ["U0DAN"]
        return out

    def nested(depth: int) -> dict[str, Any]:
        inner: dict[str, Any] = {}
        for _ in range(depth):
            inner = {"x": inner}
        return changed(event, extra=inner)

    form = "application/x-www-form-urlencoded"
    as_json: list[tuple[str, Any]] = [
        ("event as a list", changed(event, event=["not", "an", "event"])),
        ("event as a string", changed(event, event="message")),
        ("event without a type", changed(event, event={"text": "hi"})),
        ("event_callback without event_id", changed(event, event_id=None)),
        ("user as a list", user_as_list()),
        ("no type at all", changed(event, type=None)),
        ("a JSON array", [event]),
        ("nested too deeply", nested(60)),
        ("url_verification without challenge", changed(challenge, challenge=None)),
        ("command as a number", {"command": 5, "text": "x"}),
        ("shortcut without callback_id", {"type": "shortcut", "trigger_id": "1.2"}),
    ]
    as_payload: list[tuple[str, Any]] = [
        ("block_actions without action_id", without_action_id()),
        ("block_actions with actions not a list", changed(click, actions={"action_id": "a"})),
        ("block_actions with no actions", changed(click, actions=[])),
        ("view_submission without view", changed(submitted, view=None)),
        ("view_closed without view", {"type": "view_closed", "user": {"id": "U0DAN"}}),
    ]
    out = [(name, json.dumps(body).encode(), "application/json") for name, body in as_json]
    out += [
        (name, urlencode({"payload": json.dumps(body)}).encode(), form) for name, body in as_payload
    ]
    out += [
        ("payload is not JSON", b"payload=%7Bnot+json", form),
        ("payload is a JSON array", urlencode({"payload": "[1, 2]"}).encode(), form),
        ("body is not JSON", b"{not json", "application/json"),
    ]
    return out


def test_signed_but_malformed_requests_are_refused_with_400(
    demo_settings: Settings,
    fake: FakeSlackApi,
    app_for: Callable[[Settings], TestClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app_for(demo_settings)
    caplog.set_level(logging.WARNING)
    for name, body, content_type in malformed_requests():
        headers = signed_headers(body, content_type=content_type)
        res = client.post("/slack/events", content=body, headers=headers)
        assert res.status_code == 400, (name, res.status_code, res.text)
        assert res.json()["error"], name
    # Well-formed requests of kinds nobody listens to are acknowledged and ignored.
    for body in (
        {"type": "block_suggestion", "action_id": "x", "value": "v", "user": {"id": "U0DAN"}},
        {"type": "app_rate_limited", "team_id": "T111", "minute_rate_limited": 1518467820},
    ):
        assert post_json(client, body).status_code == 200
    assert inbox_rows(client) == 0
    assert fake.calls_to("/api/chat.postMessage") == []
    assert [r for r in caplog.records if r.exc_info] == []


def test_an_event_that_cannot_be_stored_is_not_acknowledged(
    tmp_path: Any, fake: FakeSlackApi, understander: Understander, model_root: Any
) -> None:
    from bot.container import Role
    from tests.conftest import make_settings

    broken = make_settings(f"sqlite:///{tmp_path}/missing/dir/db.sqlite", model_root)
    app = create_app(with_slack(broken, fake), roles=frozenset({Role.WEB}))
    with TestClient(app, raise_server_exceptions=False) as client:
        res = post_json(client, dm("the VPN is down", "U0DAN", n=7))
    assert res.status_code >= 500


def test_hostile_text_is_escaped_everywhere(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    hostile = (
        "<!channel> VPN down, log in at <https://evil.example|https://vpn.example.com> <@U0BOSS>"
    )
    body = dm("x", "U0DAN", n=8)
    body["event"]["text"] = "the VPN is down for everyone &lt;!here&gt; " + hostile
    assert post_json(client, body).status_code == 200
    settle(client)
    assert fake.posted
    for p in fake.posted:
        dumped = p.text + json.dumps(p.blocks)
        for bad in ("<!channel>", "<!here>", "<https://evil", "<@U0BOSS>"):
            assert bad not in dumped


# -- forms, shortcuts and the Home tab ------------------------------------------------------


def slash(user: str, text: str = "") -> dict[str, str]:
    fields = dict(parse_qsl(raw("slack", "slash_command.form.txt").decode()))
    fields.update(command="/ticket", user_id=user, text=text, trigger_id="42.42.trigger")
    return fields


def submission(
    view: dict[str, Any], user: str, values: dict[str, Any], *, view_id: str = "V0FORM1"
) -> dict[str, Any]:
    body = load("slack", "interactivity_view_submission.json")
    body["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T111"}
    body["view"].update(
        id=view_id,
        callback_id=view["callback_id"],
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
        state={"values": values},
    )
    return body


def test_ticket_form_from_the_slash_command(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    res = post_form(client, slash("U0ALICE", "VPN keeps dropping"))
    assert res.status_code == 200
    [opened] = fake.sent("views.open")
    assert opened["trigger_id"] == "42.42.trigger"
    view = opened["view"]
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks["summary"]["element"]["initial_value"] == "VPN keeps dropping"
    assert "VPN" in [o["value"] for o in blocks["service"]["element"]["options"]]

    incomplete = submission(
        view, "U0ALICE", {"urgency": {"urgency": {"selected_option": {"value": "high"}}}}
    )
    res = post_payload(client, incomplete)
    assert res.status_code == 200
    assert res.json()["response_action"] == "errors"
    assert set(res.json()["errors"]) >= {"summary", "kind"}
    assert inbox_rows(client) == 0

    values = {
        "kind": {"kind": {"type": "radio_buttons", "selected_option": {"value": "incident"}}},
        "summary": {"summary": {"type": "plain_text_input", "value": "VPN keeps dropping"}},
        "service": {"service": {"type": "static_select", "selected_option": {"value": "VPN"}}},
        "urgency": {"urgency": {"type": "static_select", "selected_option": {"value": "high"}}},
        "description": {"description": {"type": "plain_text_input", "value": "every 10 min"}},
    }
    res = post_payload(client, submission(view, "U0ALICE", values))
    assert res.status_code == 200
    assert res.content in (b"", b"{}")
    settle(client)
    [answer] = fake.in_channel("D0ALICE")
    assert "incident INC-1 for VPN at priority P1" in answer.text
    assert card_in(fake, INCIDENTS, "INC-1")
    assert events_of(client, "INC-1")[0][:3] == ("created", "slack", "U0ALICE")

    # The same submission again (a double click on Submit) files nothing new.
    assert post_payload(client, submission(view, "U0ALICE", values)).status_code == 200
    request = {
        **values,
        "kind": {"kind": {"type": "radio_buttons", "selected_option": {"value": "request"}}},
        "summary": {"summary": {"type": "plain_text_input", "value": "A second monitor"}},
        "urgency": {"urgency": {"type": "static_select", "selected_option": {"value": "low"}}},
    }
    del request["service"]
    assert (
        post_payload(client, submission(view, "U0ALICE", request, view_id="V0FORM2")).status_code
        == 200
    )
    settle(client)
    assert inbox_rows(client) == 2
    assert "request REQ-1 at priority P5" in fake.in_channel("D0ALICE")[-1].text


def test_message_shortcut_prefills_the_form_with_a_link_back(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    shortcut = load("slack", "socket_mode_envelope_interactive_shortcut.json")["payload"]
    shortcut.update(
        type="message_action",
        callback_id="sb_ticket_from_message",
        channel={"id": GENERAL, "name": "general"},
        message={
            "type": "message",
            "ts": "1610198080.300836",
            "text": "printer on 3 is &lt;b&gt;jammed&lt;/b&gt;",
            "user": "U0DAN",
        },
    )
    assert post_payload(client, shortcut).status_code == 200
    [opened] = fake.sent("views.open")
    blocks = {b["block_id"]: b for b in opened["view"]["blocks"]}
    assert blocks["summary"]["element"]["initial_value"] == "printer on 3 is <b>jammed</b>"
    meta = json.loads(opened["view"]["private_metadata"])
    assert meta["link"] == f"https://testxyz.slack.com/archives/{GENERAL}/p1610198080300836"


def test_home_tab_lists_the_persons_tickets_and_approvals(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    assert (
        post_json(
            client, mention("restart the mail server on Saturday 22:00", "U0ALICE", n=11)
        ).status_code
        == 200
    )
    settle(client)
    body = load("slack", "events_api_message_im.json")
    body["event_id"] = "Ev0HOME1"
    body["event"] = {
        "type": "app_home_opened",
        "user": "U0CAROL",
        "channel": "D0CAROL",
        "tab": "home",
        "event_ts": "1763000000.1",
    }
    assert post_json(client, body).status_code == 200
    settle(client)
    [published] = fake.sent("views.publish")
    assert published["user_id"] == "U0CAROL"
    dumped = json.dumps(published["view"])
    assert "Waiting for your approval" in dumped
    assert "CHG-1" in dumped
    assert fake.in_channel("D0CAROL") == []


def test_add_note_opens_a_form_and_logs_the_note(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    report = mention("The VPN is down for the whole office, nobody can work!!", "U0ALICE", n=12)
    assert post_json(client, report).status_code == 200
    settle(client)
    major = card_in(fake, INCIDENTS, "INC-1")
    assert post_payload(client, click(major, "add_note", "U0BOB", n=13)).status_code == 200
    [opened] = fake.sent("views.open")
    assert inbox_rows(client) == 1
    note = {"note": {"note": {"type": "plain_text_input", "value": "Gateway rebooted"}}}
    assert post_payload(client, submission(opened["view"], "U0BOB", note)).status_code == 200
    settle(client)
    assert ("note", "slack", "U0BOB", "bob@example.com") in events_of(client, "INC-1")
    assert "Added your note to INC-1" in fake.in_channel("D0BOB")[-1].text


def test_two_approvers_clicking_at_once_make_one_decision(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    assert (
        post_json(
            client, mention("restart the mail server on Saturday 22:00", "U0ALICE", n=14)
        ).status_code
        == 200
    )
    settle(client)
    ask = card_in(fake, APPROVALS, "CHG-1")
    codes: list[int] = []
    clicks = [click(ask, "approve", "U0CAROL", n=15), click(ask, "reject", "U0FRANK", n=16)]
    threads = [
        threading.Thread(target=lambda c=c: codes.append(post_payload(client, c).status_code))
        for c in clicks
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle(client)
    assert codes == [200, 200]
    assert status_of(client, "CHG-1") in (Status.APPROVED, Status.REJECTED)
    decisions = [a for a, *_ in events_of(client, "CHG-1") if a in ("approved", "rejected")]
    assert len(decisions) == 1
    assert len(fake.sent("chat.update")) == 1


def test_rate_limited_reply_is_sent_once_after_the_wait(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    limited = load("slack", "web_api_429_ratelimited_response.json")
    fake.add_response(
        "/api/chat.postMessage",
        status=limited["status"],
        json=limited["body"],
        headers={"Retry-After": "1"},
    )
    client = app_for(demo_settings)
    assert (
        post_json(
            client, dm("outlook keeps crashing since this morning", "U0DAN", n=17)
        ).status_code
        == 200
    )
    fake.wait_for("/api/chat.postMessage", 2, timeout=20)
    settle(client)
    first, *rest = fake.calls_to("/api/chat.postMessage")
    key = fake.args(first)["metadata"]["event_payload"]["key"]
    [again] = [c for c in rest if fake.args(c)["metadata"]["event_payload"]["key"] == key]
    assert again.at - first.at >= 1.0
    assert len([p for p in fake.posted if p.metadata == fake.args(first)["metadata"]]) == 1
