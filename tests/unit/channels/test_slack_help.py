"""What a help-channel post, an edit or a reaction stands for (`channels.slack.help`)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import SlackSettings
from bot.factories.slack import build
from bot.platforms import ChannelDeps
from channels.conversation import Action, Message
from channels.slack.adapter import SlackChannel
from channels.slack.help import (
    HelpSettings,
    TicketRequest,
    only_decoration,
    parse_help,
    ticket_action,
)
from tests.payloads import load

HELP = HelpSettings(channels=frozenset({"C123ABC456"}))
OURS = {"U0SWITCH"}


def channel_post(**event: Any) -> dict[str, Any]:
    body = load("slack", "events_api_message_channel.json")
    body["event"].update(load("slack", "events_api_message_channels_docs.json"))
    body["event"].update(event)
    return body


def test_a_post_in_a_help_channel_is_a_direct_message_in_its_own_thread() -> None:
    [event] = parse_help(channel_post(), HELP, OURS)  # type: ignore[misc]
    assert isinstance(event, Message)
    assert event.direct
    assert event.text == "Hello world"
    assert (event.address.conversation, event.address.thread) == ("C123ABC456", "1355517523.000005")
    assert event.event_id == "Ev111"


def test_a_reply_in_the_thread_is_the_same_conversation() -> None:
    [first] = parse_help(channel_post(), HELP, OURS)  # type: ignore[misc]
    [reply] = parse_help(  # type: ignore[misc]
        channel_post(ts="1355517599.000001", thread_ts="1355517523.000005", text="still broken"),
        HELP,
        OURS,
    )
    assert reply.address.key == first.address.key


def test_other_channels_are_left_to_the_usual_parsing() -> None:
    assert parse_help(channel_post(channel="C0ELSEWHERE"), HELP, OURS) is None


def test_a_mention_in_a_help_channel_is_taken_once_as_the_post() -> None:
    mention = load("slack", "events_api_app_mention.json")
    mention["event"]["channel"] = "C123ABC456"
    assert parse_help(mention, HELP, OURS) == []


@pytest.mark.parametrize(
    "event",
    [
        load("slack", "events_api_message_channel_join_docs.json"),
        {"bot_id": "B1", "text": "deploy finished"},
        {"user": "U0SWITCH", "text": "my own reply"},
        {"text": ":tada: :raised_hands:"},
        {"text": "<https://status.example.com|status>"},
        {"text": "🎉🎉"},
    ],
)
def test_joins_bots_and_bare_emoji_or_links_are_ignored(event: dict[str, Any]) -> None:
    body = channel_post()
    body["event"].update(copy.deepcopy(event))
    body["event"]["channel"] = "C123ABC456"
    assert parse_help(body, HELP, OURS) == []


def test_only_decoration() -> None:
    assert only_decoration(":+1: <https://x.example>  https://y.example")
    assert not only_decoration("VPN :fire: again")


def test_an_edit_of_the_first_post_updates_the_description() -> None:
    body = load("slack", "events_api_message_changed.json")
    body["event"]["channel"] = "C123ABC456"
    body["event"]["message"].pop("thread_ts", None)
    body["event"]["message"]["text"] = "printer on floor 2 jams"
    [event] = parse_help(body, HELP, OURS)  # type: ignore[misc]
    assert isinstance(event, Action)
    assert event.name == "update_description"
    assert event.params["description"] == "printer on floor 2 jams"
    assert event.address.thread == body["event"]["previous_message"]["ts"]


def test_a_note_in_a_thread_is_a_note_action() -> None:
    body = channel_post(ts="1355517599.000001", thread_ts="1355517523.000005", text="Note: SSD")
    [event] = parse_help(body, HELP, OURS)  # type: ignore[misc]
    assert isinstance(event, Action)
    assert (event.name, event.params["note"]) == ("thread_note", "SSD")


def test_the_ticket_reaction_from_the_docs_asks_for_the_message() -> None:
    body = load("slack", "events_api_reaction_added.json")
    body["event"]["reaction"] = "ticket"
    found = parse_help(body, HELP, OURS)
    assert found == TicketRequest(
        team="T123ABC456",
        channel="C123ABC456",
        ts="1360782400.498405",
        reactor="U123ABC456",
        author="U222222222",
    )
    assert isinstance(found, TicketRequest)
    assert found.event_id == "reaction:C123ABC456:1360782400.498405"


@pytest.mark.parametrize(
    ("reaction", "kind", "expected"),
    [
        ("thumbsup", "reaction_added", []),
        ("ticket", "reaction_removed", []),
    ],
)
def test_other_reactions_and_removals_do_nothing(reaction: str, kind: str, expected: Any) -> None:
    body = load("slack", "events_api_reaction_added.json")
    body["event"].update(reaction=reaction, type=kind)
    assert parse_help(body, HELP, OURS) == expected


def test_a_check_mark_resolves_only_in_help_channels() -> None:
    body = load("slack", "events_api_reaction_added.json")
    body["event"]["reaction"] = "white_check_mark"
    [event] = parse_help(body, HELP, OURS)  # type: ignore[misc]
    assert isinstance(event, Action)
    assert (event.name, event.address.thread) == ("resolve_thread", "1360782400.498405")
    body["event"]["item"]["channel"] = "C0ELSEWHERE"
    assert parse_help(body, HELP, OURS) == []


def test_a_reacted_message_becomes_a_ticket_for_its_author() -> None:
    request = TicketRequest(team="T1", channel="C1", ts="1.2", reactor="U0BOB", author="U0DAN")
    message = {"user": "U0DAN", "text": "wifi drops\nin room 4", "ts": "1.2"}
    action = ticket_action(request, message, "https://x.slack.com/archives/C1/p12")
    assert action is not None
    assert action.sender.external_id == "U0DAN"
    assert action.params["summary"] == "wifi drops"
    assert action.params["filed_by"] == "U0BOB"
    assert action.params["link"] == "https://x.slack.com/archives/C1/p12"
    assert ticket_action(request, {"bot_id": "B1", "text": "x", "ts": "1.2"}, "") is None


def test_someone_else_answering_in_the_thread_is_a_reply_to_record() -> None:
    body = channel_post(
        ts="1355517599.000001",
        thread_ts="1355517523.000005",
        parent_user_id="U0DAN",
        user="U0BOB",
        text="try a restart",
    )
    [event] = parse_help(body, HELP, OURS)  # type: ignore[misc]
    assert isinstance(event, Action)
    assert (event.name, event.params["text"]) == ("thread_reply", "try a restart")
    body["event"]["user"] = "U0DAN"
    [own] = parse_help(body, HELP, OURS)  # type: ignore[misc]
    assert isinstance(own, Message)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (
            {"SLACK_HELP_CHANNELS": " C0ITHELP, G0VIPHELP ,", "SLACK_TICKET_REACTION": ":sos:"},
            HelpSettings(channels=frozenset({"C0ITHELP", "G0VIPHELP"}), ticket_reaction="sos"),
        ),
        ({}, HelpSettings()),
    ],
)
def test_the_environment_names_the_help_channels_and_the_reaction(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: HelpSettings
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-unit")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "unit-secret")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = SimpleNamespace(slack=SlackSettings(_env_file=None))  # type: ignore[call-arg]

    async def history(key: str, after: int) -> list[object]:
        return []

    channel = build(settings, ChannelDeps(secret=lambda: b"0" * 32, history=history))  # type: ignore[arg-type]
    assert isinstance(channel, SlackChannel)
    assert channel.help == expected
