"""Help channels and emoji ticketing through the whole pipeline, against the fake Slack API.

Posts in a help channel are taken without a mention and answered in their thread; a 🎫 on
any message files a ticket for its author; agents note and resolve in the thread. Requests
are the vendored payloads of `tests/data/payloads/slack/`, signed like Slack signs them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings, SlackSettings
from bot.container import Overrides
from bot.factories.slack import HELP_CHANNELS_KEY
from nlu.types import Understander
from store.enums import Status
from store.models import InboxEvent, OutboxMessage, Ticket
from tests.e2e.conftest import SECRET, post_json, post_payload, run, settle
from tests.e2e.test_slack import USERS, events_of, status_of
from tests.fakes.slack_api import BOT_USER, FakeSlackApi
from tests.payloads import load

HELP, GENERAL = "C0ITHELP", "C0GENERAL"


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(USERS) as api:
        yield api


@pytest.fixture
def app_for(fake: FakeSlackApi, understander: Understander) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def start(settings: Settings, **slack_settings: Any) -> TestClient:
        slack = SlackSettings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token="xoxb-e2e-token",
            signing_secret=SECRET,
            api_url=fake.api_url,
            help_channels=f" {HELP} ,",
            **slack_settings,
        )
        app = create_app(
            settings.model_copy(update={"slack": slack}),
            overrides=Overrides(understander=understander),
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for c in clients:
        c.__exit__(None, None, None)


def post(
    text: str, user: str, *, n: int, channel: str = HELP, thread: str | None = None
) -> dict[str, Any]:
    """A channel `message` event (no mention) as Slack delivers it."""
    body = load("slack", "events_api_message_channel.json")
    ts = f"1764{n:06d}.000100"
    body["team_id"] = "T111"
    body["event"].update(text=text, user=user, ts=ts, event_ts=ts, channel=channel)
    if thread:
        body["event"]["thread_ts"] = thread
    body["event_id"] = f"Ev0POST{n}"
    return body


def reaction(name: str, user: str, *, channel: str, ts: str, n: int, author: str) -> dict[str, Any]:
    body = load("slack", "events_api_reaction_added.json")
    body["team_id"] = "T111"
    body["event"].update(reaction=name, user=user, item_user=author)
    body["event"]["item"].update(channel=channel, ts=ts)
    body["event_id"] = f"Ev0REACT{n}"
    body["authorizations"][0].update(user_id=BOT_USER, team_id="T111", is_bot=True)
    return body


def in_thread(fake: FakeSlackApi, ts: str) -> list[str]:
    return [p.text for p in fake.by_bot(HELP) if p.thread_ts == ts]


def tickets(client: TestClient) -> list[tuple[str, str, str]]:
    async def query(uow: Any) -> list[tuple[str, str, str]]:
        rows = await uow.session.scalars(select(Ticket).order_by(Ticket.id))
        out = []
        for t in rows:
            requester = await uow.people.get(t.requester_id)
            out.append((t.ref, requester.email, t.description))
        return out

    return list(run(client, query))


def handled(client: TestClient, timeout: float) -> None:
    """Wait until no inbox event is pending (replies may still be queued)."""

    async def pending(uow: Any) -> int:
        stmt = select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "pending")
        return int(await uow.session.scalar(stmt) or 0)

    deadline = time.monotonic() + timeout
    while run(client, pending) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run(client, pending) == 0, "the inbox did not drain"


def queued_threads(client: TestClient) -> list[str]:
    async def query(uow: Any) -> list[str]:
        rows = await uow.session.scalars(select(OutboxMessage))
        return [str(r.address.get("thread")) for r in rows if r.address.get("conversation") == HELP]

    return list(run(client, query))


def details_of(client: TestClient, ref: str) -> list[dict[str, Any]]:
    async def query(uow: Any) -> list[dict[str, Any]]:
        ticket = await uow.tickets.by_ref(ref)
        return [dict(e.detail) for e in await uow.tickets.events(ticket.id)]

    return list(run(client, query))


def filed(client: TestClient, ref: str) -> dict[str, Any]:
    """The detail of a ticket's `filed_from_message` event."""
    [detail] = [
        d
        for (action, *_), d in zip(events_of(client, ref), details_of(client, ref), strict=True)
        if action == "filed_from_message"
    ]
    return detail


def fake_permalink(ts: str, channel: str = GENERAL) -> str:
    return f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def inbox_count(client: TestClient) -> int:
    async def count(uow: Any) -> int:
        return int(await uow.session.scalar(select(func.count()).select_from(InboxEvent)) or 0)

    return int(run(client, count))


def test_a_help_channel_post_is_a_ticket_answered_in_its_thread(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    first = post("outlook keeps crashing since this morning", "U0DAN", n=1)
    ts = first["event"]["ts"]
    assert post_json(client, first).status_code == 200
    settle(client)
    [answer] = in_thread(fake, ts)
    assert "INC-1" in answer
    # The card others can read in the thread says only reference, status and assignee.
    [card] = [p for p in fake.by_bot(HELP) if p.thread_ts == ts]
    shown = json.dumps(card.blocks)
    assert "INC-1" in shown
    assert "Status" in shown
    assert "Priority" not in shown
    assert "Requester" not in shown
    fake.wait_for("/api/reactions.add", 1)
    assert fake.reactions == [(HELP, ts, "eyes")]
    assert events_of(client, "INC-1")[0] == ("created", "slack", "U0DAN", "dan@example.com")

    # A reply in the thread continues the same conversation, answered in the same thread.
    more = post("it happens when I open the calendar", "U0DAN", n=2, thread=ts)
    assert post_json(client, more).status_code == 200
    settle(client)
    assert len(in_thread(fake, ts)) == 2
    assert [p for p in fake.by_bot(HELP) if p.thread_ts != ts] == []
    assert [ref for ref, *_ in tickets(client)] == ["INC-1"]
    # Only top-level posts get 👀.
    assert len(fake.reactions) == 1

    # An edit of the first post becomes the ticket's description.
    edit = load("slack", "events_api_message_changed.json")
    edit["team_id"] = "T111"
    edit["event_id"] = "Ev0EDIT1"
    edit["event"].update(channel=HELP, ts="1764999999.000100")
    edit["event"]["message"].update(user="U0DAN", ts=ts, text="outlook crashes on start")
    edit["event"]["message"].pop("thread_ts", None)
    edit["event"]["previous_message"].update(user="U0DAN", ts=ts, text=first["event"]["text"])
    assert post_json(client, edit).status_code == 200
    settle(client)
    assert tickets(client)[0][2] == "outlook crashes on start"
    assert ("description", "slack", "U0DAN", "dan@example.com") in events_of(client, "INC-1")
    # The edit is recorded, not answered, and files nothing new.
    assert len(in_thread(fake, ts)) == 2
    assert len(tickets(client)) == 1


def test_a_knowledge_answer_is_shown_to_the_asker_alone(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    ask = post("how do I read work email on my phone?", "U0DAN", n=1)
    ts = ask["event"]["ts"]
    assert post_json(client, ask).status_code == 200
    settle(client)
    [private] = fake.ephemeral
    assert (private.shown_to, private.channel, private.thread_ts) == ("U0DAN", HELP, ts)
    assert "Here's what I found" in private.text
    assert in_thread(fake, ts) == ["I've sent you the details (only you can see them)."]
    assert tickets(client) == []


def test_joins_bots_and_bare_emoji_or_links_are_not_taken(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    join = post("", "U0DAN", n=1)
    join["event"].update(load("slack", "events_api_message_channel_join_docs.json"))
    join["event"].update(channel=HELP, user="U0DAN")
    bot = post("beep", "U0OTHERBOT", n=2)
    bot["event"]["bot_id"] = "B0OTHER"
    emoji = post(":tada: :tada:", "U0DAN", n=3)
    link = post("<https://status.example.com>", "U0DAN", n=4)
    elsewhere = post("printer is broken", "U0DAN", n=5, channel=GENERAL)
    for body in (join, bot, emoji, link, elsewhere):
        assert post_json(client, body).status_code == 200
    # A positive signal that the pipeline ran: a real post afterwards is answered.
    real = post("the printer on floor 2 is broken", "U0DAN", n=6)
    assert post_json(client, real).status_code == 200
    settle(client)
    assert inbox_count(client) == 1
    assert [ref for ref, *_ in tickets(client)] == ["INC-1"]
    assert fake.reactions == [(HELP, real["event"]["ts"], "eyes")]


def test_a_ticket_reaction_files_a_ticket_for_the_author_once(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    old = fake.say(GENERAL, "U0DAN", "the wifi in meeting room 4 drops every few minutes")
    fake.say(GENERAL, "U0ALICE", "same here")
    body = reaction("ticket", "U0BOB", channel=GENERAL, ts=old, n=1, author="U0DAN")
    assert post_json(client, body).status_code == 200
    settle(client)
    [(ref, requester, description)] = tickets(client)
    assert requester == "dan@example.com"
    assert description.startswith("the wifi in meeting room 4")
    assert f"https://example.slack.com/archives/{GENERAL}/p{old.replace('.', '')}" in description
    log = events_of(client, ref)
    assert log[0][3] == "dan@example.com"
    # Who reacted is recorded as who filed it.
    assert ("filed_from_message", "slack", "U0BOB", "bob@example.com") in log
    assert {"filed_by": "U0BOB", "link": fake_permalink(old)}.items() <= filed(client, ref).items()
    [asked] = fake.sent("conversations.history")
    assert (asked["latest"], asked["limit"]) == (old, "1")
    answers = [p for p in fake.by_bot(GENERAL) if p.thread_ts == old]
    assert len(answers) == 1
    assert ref in answers[0].text

    # Another reaction on the same message, even by someone else: nothing new.
    again = reaction("ticket", "U0ALICE", channel=GENERAL, ts=old, n=2, author="U0DAN")
    assert post_json(client, again).status_code == 200
    removed = reaction("ticket", "U0BOB", channel=GENERAL, ts=old, n=3, author="U0DAN")
    removed["event"]["type"] = "reaction_removed"
    assert post_json(client, removed).status_code == 200
    settle(client)
    assert len(tickets(client)) == 1
    assert len([p for p in fake.by_bot(GENERAL) if p.thread_ts == old]) == 1


def test_an_agents_note_stays_internal_and_a_check_mark_resolves(
    any_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(any_settings)
    first = post("my laptop will not boot at all", "U0DAN", n=1)
    ts = first["event"]["ts"]
    assert post_json(client, first).status_code == 200
    settle(client)
    answer = post("I've ordered a replacement disk", "U0BOB", n=5, thread=ts)
    answer["event"]["parent_user_id"] = "U0DAN"
    assert post_json(client, answer).status_code == 200
    note = post("note: probably the SSD, check warranty", "U0BOB", n=2, thread=ts)
    note["event"]["parent_user_id"] = "U0DAN"
    assert post_json(client, note).status_code == 200
    settle(client)
    log = events_of(client, "INC-1")
    assert ("reply", "slack", "U0BOB", "bob@example.com") in log
    assert ("note", "slack", "U0BOB", "bob@example.com") in log
    details = details_of(client, "INC-1")
    assert {"text": "I've ordered a replacement disk", "public": True} in details
    assert {"text": "probably the SSD, check warranty", "internal": True} in details
    # Nothing public in the thread and nothing to the requester: only Bob sees the confirmation.
    assert len(in_thread(fake, ts)) == 1
    assert [e.shown_to for e in fake.ephemeral] == ["U0BOB"]
    assert fake.in_channel("D0DAN") == []

    # ✅ from somebody who is no agent does nothing; from an agent it resolves.
    assert (
        post_json(
            client, reaction("white_check_mark", "U0DAN", channel=HELP, ts=ts, n=3, author="U0DAN")
        ).status_code
        == 200
    )
    settle(client)
    assert status_of(client, "INC-1") is not Status.RESOLVED
    assert (
        post_json(
            client, reaction("white_check_mark", "U0BOB", channel=HELP, ts=ts, n=4, author="U0DAN")
        ).status_code
        == 200
    )
    settle(client)
    assert status_of(client, "INC-1") is Status.RESOLVED
    assert ("resolved", "slack", "U0BOB", "bob@example.com") in events_of(client, "INC-1")


def test_a_burst_of_posts_makes_one_ticket_and_one_eyes_each(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    bodies = [post(f"outlook keeps crashing on laptop {i}", "U0DAN", n=i) for i in range(100)]
    for body in bodies:
        assert post_json(client, body).status_code == 200
    # Slack delivering some of them again changes nothing.
    for body in bodies[:10]:
        assert post_json(client, body, retry=1).status_code == 200
    handled(client, timeout=120.0)
    fake.wait_for("/api/reactions.add", 100)
    assert len(tickets(client)) == 100
    assert sorted(fake.reactions) == sorted((HELP, b["event"]["ts"], "eyes") for b in bodies)
    # The answers leave at Slack's pace (about one a second in a channel): all are queued,
    # one per thread.
    assert sorted(queued_threads(client)) == sorted(b["event"]["ts"] for b in bodies)


def test_help_channels_from_the_desk_file_are_taken_too(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)

    async def store(uow: Any) -> None:
        await uow.cursors.set(HELP_CHANNELS_KEY, "C0DESKHELP")
        await uow.commit()

    run(client, store)
    body = post("outlook keeps crashing since this morning", "U0DAN", n=1, channel="C0DESKHELP")
    assert post_json(client, body).status_code == 200
    settle(client)
    [answer] = fake.by_bot("C0DESKHELP")
    assert answer.thread_ts == body["event"]["ts"]
    assert "INC-1" in answer.text


def test_the_message_shortcut_asks_to_be_invited_where_it_cannot_read(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    fake.add_response("/api/conversations.replies", json={"ok": False, "error": "not_in_channel"})
    shortcut = load("slack", "socket_mode_envelope_interactive_shortcut.json")["payload"]
    shortcut.update(
        type="message_action",
        callback_id="sb_ticket_from_message",
        channel={"id": "C0PRIVATE", "name": "secret-project"},
        user={"id": "U0DAN", "username": "dan", "team_id": "T111"},
        message={"type": "message", "ts": "1610198080.300836", "text": "vpn down", "user": "U0X"},
    )
    assert post_payload(client, shortcut).status_code == 200
    [opened] = fake.sent("views.open")
    assert opened["view"]["blocks"]
    [hint] = fake.in_channel("D0DAN")
    assert "Invite me to this channel" in hint.text

    # Where the bot can read the thread, the form is all there is.
    ts = fake.say(GENERAL, "U0X", "printer jammed")
    shortcut.update(
        channel={"id": GENERAL, "name": "general"},
        message={"type": "message", "ts": ts, "text": "printer jammed", "user": "U0X"},
    )
    assert post_payload(client, shortcut).status_code == 200
    assert len(fake.sent("views.open")) == 2
    assert [c["channel"] for c in fake.sent("conversations.replies")] == ["C0PRIVATE", GENERAL]
    assert len(fake.in_channel("D0DAN")) == 1


def test_a_link_code_asked_for_in_a_help_channel_is_shown_to_the_asker_alone(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[[Settings], TestClient]
) -> None:
    client = app_for(demo_settings)
    ask = post("link", "U0DAN", n=1)
    ts = ask["event"]["ts"]
    assert post_json(client, ask).status_code == 200
    settle(client)
    [private] = fake.ephemeral
    assert (private.shown_to, private.thread_ts) == ("U0DAN", ts)
    assert "Your link code is" in private.text
    assert in_thread(fake, ts) == ["I've sent you the details (only you can see them)."]


def test_the_configured_reaction_files_even_a_post_of_only_emoji(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[..., TestClient]
) -> None:
    client = app_for(demo_settings, ticket_reaction=":sos:")
    ts = fake.say(HELP, "U0DAN", ":fire: :fire: :fire:")
    bare = post(":fire: :fire: :fire:", "U0DAN", n=1)
    bare["event"].update(ts=ts, event_ts=ts)
    assert post_json(client, bare).status_code == 200
    # The default 🎫 is not the configured reaction here: nothing.
    ticket = reaction("ticket", "U0BOB", channel=HELP, ts=ts, n=1, author="U0DAN")
    assert post_json(client, ticket).status_code == 200
    settle(client)
    assert inbox_count(client) == 0
    assert tickets(client) == []
    assert fake.reactions == []

    # Reacted by somebody the directory does not know: their Slack id is kept all the same.
    sos = reaction("sos", "U0NEWBIE", channel=HELP, ts=ts, n=2, author="U0DAN")
    assert post_json(client, sos).status_code == 200
    settle(client)
    [(ref, requester, _)] = tickets(client)
    assert requester == "dan@example.com"
    assert ("filed_from_message", "slack", "U0NEWBIE", None) in events_of(client, ref)
    [answer] = in_thread(fake, ts)
    assert ref in answer
    assert filed(client, ref)["link"] == fake_permalink(ts, HELP)


def test_status_in_a_public_thread_shows_reference_status_and_assignee_only(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[..., TestClient]
) -> None:
    client = app_for(demo_settings)
    first = post("outlook keeps crashing since this morning", "U0DAN", n=1)
    ts = first["event"]["ts"]
    assert post_json(client, first).status_code == 200
    settle(client)

    async def assign(uow: Any) -> None:
        ticket = await uow.tickets.by_ref("INC-1")
        bob = await uow.people.by_email("bob@example.com")
        ticket.assignee_id = bob.id
        await uow.commit()

    run(client, assign)
    asked = post("status of INC-1", "U0DAN", n=2, thread=ts)
    assert post_json(client, asked).status_code == 200
    settle(client)
    status = [p for p in fake.by_bot(HELP) if p.thread_ts == ts][-1]
    assert status.text == "INC-1 is new; assigned to Bob Agent."
    shown = json.dumps(status.blocks)
    assert "Bob Agent" in shown
    for detail in ("Priority", "Requester", "Last update", "Dan", "Outlook", "P3"):
        assert detail not in shown, detail

    # One person's list of tickets is theirs alone; the thread hears that it was sent.
    mine = post("show my tickets", "U0DAN", n=3, thread=ts)
    assert post_json(client, mine).status_code == 200
    settle(client)
    [private] = fake.ephemeral
    assert (private.shown_to, private.thread_ts) == ("U0DAN", ts)
    assert "INC-1" in private.text
    assert in_thread(fake, ts)[-1] == "I've sent you the details (only you can see them)."


def test_ten_posts_a_second_each_get_eyes_at_once_one_ticket_and_one_paced_reply(
    demo_settings: Settings, fake: FakeSlackApi, app_for: Callable[..., TestClient]
) -> None:
    client = app_for(demo_settings)
    people = ["U0DAN", "U0ALICE", "U0CAROL", "U0FRANK"]
    things = ["vpn", "printer", "outlook", "laptop screen", "wifi", "badge reader"]
    bodies = [
        post(f"the {things[i % 6]} is broken again, case {i}", people[i % 4], n=i)
        for i in range(30)
    ]
    posts = [b["event"]["ts"] for b in bodies]
    started = time.monotonic()
    for i, body in enumerate(bodies):
        # Ten a second, as a busy channel gets them.
        time.sleep(max(0.0, started + i / 10 - time.monotonic()))
        assert post_json(client, body).status_code == 200
    # Slack delivering some of them again changes nothing.
    for body in bodies[::7]:
        assert post_json(client, body, retry=1).status_code == 200

    # Every post gets its 👀 while most answers are still queued behind the channel's pace.
    fake.wait_for("/api/reactions.add", len(posts), timeout=30.0)
    assert len(fake.calls_to("/api/chat.postMessage")) < len(posts)
    assert sorted(fake.reactions) == sorted((HELP, ts, "eyes") for ts in posts)

    settle(client, timeout=len(posts) * 3 + 30)
    found = tickets(client)
    assert len(found) == len(posts)
    assert sorted(d for *_, d in found) == sorted(b["event"]["text"] for b in bodies)
    # One answer in each post's thread, none lost and none twice.
    assert sorted(p.thread_ts or "" for p in fake.by_bot(HELP)) == sorted(posts)
    # Slack's pace: about one message a second in the channel, a burst of three on top. The
    # fake sees a send a moment after its slot was granted, and that moment varies on a busy
    # machine: a second of slack, far below what sending without the limit would show.
    sent = sorted(
        c.at for c in fake.calls_to("/api/chat.postMessage") if fake.args(c)["channel"] == HELP
    )
    assert len(sent) == len(posts)
    for i in range(len(sent)):
        for j in range(i + 1, len(sent)):
            assert j - i + 1 <= 3 + (sent[j] - sent[i]) + 1.0, (i, j, sent[j] - sent[i])
