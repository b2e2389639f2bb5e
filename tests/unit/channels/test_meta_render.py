"""Replies as Send API messages, and the messaging-window policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from channels.conversation import Button, Reply, TicketCard
from channels.meta.parse import decode_payload
from channels.meta.render import MAX_QUICK_REPLIES, TEXT_LIMIT, render
from channels.meta.window import permission

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def test_buttons_become_quick_replies_carrying_action_value_and_card_version() -> None:
    card = TicketCard(ref="CHG-3", title="Patch", kind="change", status="new", version=4)
    reply = Reply(
        text="Approve this change?",
        card=card,
        buttons=(Button(label="Approve the change now", action="approve", value="CHG-3"),),
    )
    message = render(reply)
    assert message["text"].startswith("Approve this change?")
    assert "CHG-3 · Patch" in message["text"]
    assert "Reply 1" not in message["text"]
    [quick] = message["quick_replies"]
    assert quick["content_type"] == "text"
    assert len(quick["title"]) <= 20
    assert decode_payload(quick["payload"]) == ("approve", "CHG-3", "4")


def test_too_many_buttons_become_numbered_text_and_long_text_is_clipped() -> None:
    buttons = tuple(Button(label=f"Option {i}", action="choose") for i in range(14))
    message = render(Reply(text="x" * 5000, buttons=buttons))
    assert "quick_replies" not in message
    assert len(message["text"]) == TEXT_LIMIT
    assert MAX_QUICK_REPLIES == 13


def test_plain_text_has_no_quick_replies() -> None:
    assert render(Reply(text="Thanks")) == {"text": "Thanks"}


def test_within_a_day_the_reply_is_a_response() -> None:
    allowed = permission(NOW - timedelta(hours=23), NOW, human_agent=False, hold_limit=WEEK)
    assert allowed.fields == {"messaging_type": "RESPONSE"}
    unknown = permission(None, NOW, human_agent=False, hold_limit=WEEK)
    assert unknown.fields == {"messaging_type": "RESPONSE"}


def test_after_a_day_the_reply_waits_unless_the_human_agent_tag_is_allowed() -> None:
    two_days = NOW - timedelta(days=2)
    held = permission(two_days, NOW, human_agent=False, hold_limit=WEEK)
    assert (held.fields, held.wait, held.expired) == (None, True, False)
    tagged = permission(two_days, NOW, human_agent=True, hold_limit=WEEK)
    assert tagged.fields == {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    late = permission(NOW - timedelta(days=8), NOW, human_agent=True, hold_limit=WEEK)
    assert (late.fields, late.wait, late.expired) == (None, True, True)
