"""The Slack app manifest asks for what the code handles, and no more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from channels.slack.ids import MESSAGE_SHORTCUT, NEW_TICKET, TICKET_COMMAND

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack-manifest.yml"


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def test_every_url_is_the_one_route() -> None:
    m = manifest()
    urls = [
        m["settings"]["event_subscriptions"]["request_url"],
        m["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in m["features"]["slash_commands"]),
    ]
    assert all(u.endswith("/slack/events") for u in urls)
    assert m["settings"]["interactivity"]["is_enabled"] is True


def test_command_shortcuts_and_events_match_the_code() -> None:
    m = manifest()
    assert [c["command"] for c in m["features"]["slash_commands"]] == [TICKET_COMMAND]
    shortcuts = {(s["type"], s["callback_id"]) for s in m["features"]["shortcuts"]}
    assert shortcuts == {("message", MESSAGE_SHORTCUT), ("global", NEW_TICKET)}
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
        "reaction_added",
    }
    assert m["features"]["app_home"]["home_tab_enabled"] is True


def test_scopes_are_exactly_the_needed_ones() -> None:
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "commands",
        "im:history",
        "channels:history",
        "groups:history",
        "mpim:history",
        "im:write",
        "channels:join",
        "users:read",
        "users:read.email",
        "reactions:read",
        "reactions:write",
    }
