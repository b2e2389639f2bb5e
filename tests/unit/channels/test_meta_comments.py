"""Public comments in Meta deliveries: which become messages, and what they carry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.base import MemoryCursors, PayloadError
from channels.conversation import Message
from channels.meta.comments import comment_id, parse_changes, public_place
from channels.meta.parse import decode_body, parse_delivery
from channels.meta.private import PrivateReplies
from channels.meta.render import public_text
from tests.fakes.meta_api import (
    FEED_COMMENT,
    FEED_COMMENT_BY_PAGE,
    FEED_COMMENT_EDITED,
    FEED_PAGE_ID,
    FEED_REACTION,
    IG_ACCOUNT,
    IGSID,
    INSTAGRAM_COMMENT,
    MESSENGER_TEXT,
    body,
    comment,
)
from tests.payloads import load


def parsed(raw: bytes) -> list[Any]:
    return parse_delivery(decode_body(raw))


def test_a_facebook_comment_is_a_public_message_from_its_author() -> None:
    [event] = parsed(comment(FEED_COMMENT, text="the VPN is down again"))
    assert isinstance(event, Message)
    assert event.event_id == "comment:139560936744456_139620233405726"
    assert event.text == "the VPN is down again"
    assert event.address.channel == "messenger"
    assert event.address.workspace == FEED_PAGE_ID
    assert event.address.conversation == event.address.user == "139560936744123"
    assert (event.sender.platform, event.sender.external_id) == ("messenger", "139560936744123")
    assert event.sender.display_name == "user"
    assert event.received_at == datetime.fromtimestamp(1511951015, UTC)
    assert comment_id(event) == "139560936744456_139620233405726"
    assert public_place(event) == "Facebook"


def test_an_instagram_comment_is_a_public_message_from_its_author() -> None:
    [event] = parsed(comment(INSTAGRAM_COMMENT, text="my order never came"))
    assert isinstance(event, Message)
    assert event.event_id == "comment:17865799348089039"
    assert event.text == "my order never came"
    assert (event.address.channel, event.address.workspace) == ("instagram", IG_ACCOUNT)
    assert event.address.conversation == event.address.user == IGSID
    assert event.sender.display_name == "@USERNAME"
    assert event.received_at == datetime.fromtimestamp(1569262486, UTC)
    assert public_place(event) == "Instagram"


def test_a_direct_message_is_not_a_comment() -> None:
    [event] = parsed(body(MESSENGER_TEXT, text="hello"))
    assert comment_id(event) is None
    assert public_place(event) is None


@pytest.mark.parametrize("name", [FEED_COMMENT_EDITED, FEED_REACTION, FEED_COMMENT_BY_PAGE])
def test_edits_reactions_and_our_own_comments_are_ignored(name: str) -> None:
    assert parsed(comment(name)) == []


def test_our_own_instagram_comment_is_ignored() -> None:
    assert parsed(comment(INSTAGRAM_COMMENT, sender=IG_ACCOUNT)) == []


def test_a_facebook_comment_without_an_author_or_text_is_ignored() -> None:
    data = load("meta", FEED_COMMENT)
    anonymous = json.loads(json.dumps(data))
    del anonymous["entry"][0]["changes"][0]["value"]["from"]
    blank = json.loads(json.dumps(data))
    blank["entry"][0]["changes"][0]["value"]["message"] = "  "
    assert parse_delivery(anonymous) == []
    assert parse_delivery(blank) == []


def test_fields_of_the_other_product_and_unknown_fields_are_ignored() -> None:
    feed_value = load("meta", FEED_COMMENT)["entry"][0]["changes"][0]["value"]
    on_instagram = {
        "object": "instagram",
        "entry": [
            {"id": IG_ACCOUNT, "time": 1, "changes": [{"field": "feed", "value": feed_value}]}
        ],
    }
    mention = {
        "object": "page",
        "entry": [{"id": FEED_PAGE_ID, "time": 1, "changes": [{"field": "mention", "value": {}}]}],
    }
    assert parse_delivery(on_instagram) == []
    assert parse_delivery(mention) == []


def test_an_iso_created_time_is_read_and_a_missing_one_falls_back_to_the_entry() -> None:
    data = load("meta", FEED_COMMENT)
    value = data["entry"][0]["changes"][0]["value"]
    value["created_time"] = "2026-09-05T20:00:00+0000"
    [iso] = parse_delivery(data)
    del value["created_time"]
    [fallback] = parse_delivery(data)
    assert iso.received_at == datetime(2026, 9, 5, 20, 0, tzinfo=UTC)
    assert fallback.received_at == datetime.fromtimestamp(1511951015, UTC)


def _feed(value: Any, **entry: Any) -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {"id": FEED_PAGE_ID, "time": 1, **entry, "changes": [{"field": "feed", "value": value}]}
        ],
    }


@pytest.mark.parametrize(
    ("payload", "part"),
    [
        (_feed("a string"), "value"),
        (
            _feed({"item": "comment", "verb": "add", "from": {"id": "x1"}, "message": "hi"}),
            "from.id",
        ),
        (
            _feed(
                {
                    "item": "comment",
                    "verb": "add",
                    "from": {"id": "1"},
                    "message": "hi",
                    "comment_id": "1; DROP",
                    "created_time": 1,
                }
            ),
            "comment",
        ),
        (_feed({"item": "comment", "verb": "add", "from": "me", "message": "hi"}), "from"),
        ({"object": "page", "entry": [{"id": "1", "changes": {"field": "feed"}}]}, "changes"),
        ({"object": "page", "entry": [{"id": "p", "changes": [{}]}]}, "entry.id"),
        (
            {
                "object": "page",
                "entry": [
                    {
                        "id": "1",
                        "changes": [
                            {
                                "field": "feed",
                                "value": {
                                    "item": "comment",
                                    "verb": "add",
                                    "from": {"id": "2"},
                                    "message": "hi",
                                    "comment_id": "3",
                                },
                            }
                        ],
                    }
                ],
            },
            "time",
        ),
    ],
)
def test_a_malformed_change_names_the_part(payload: dict[str, Any], part: str) -> None:
    with pytest.raises(PayloadError, match=part):
        parse_delivery(payload)


def test_too_many_changes_are_refused() -> None:
    change = {"field": "feed", "value": {"item": "like", "verb": "add"}}
    entry = {"id": FEED_PAGE_ID, "time": 1, "changes": [change] * 1_001}
    with pytest.raises(PayloadError, match="too many"):
        parse_changes(entry, "messenger", 2_000)


NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def test_a_comment_is_answered_privately_once() -> None:
    marks = PrivateReplies(MemoryCursors())
    await marks.await_reply("messenger", "42", "1_2", NOW - timedelta(hours=1))
    first = await marks.claim("messenger", "42", NOW)
    again = await marks.claim("messenger", "42", NOW)
    assert first is not None
    assert first.comment_id == "1_2"
    assert again is None


async def test_a_newer_comment_can_be_answered_but_an_older_one_never_replaces_it() -> None:
    marks = PrivateReplies(MemoryCursors())
    await marks.await_reply("instagram", "42", "17", NOW - timedelta(hours=2))
    assert await marks.claim("instagram", "42", NOW) is not None
    await marks.await_reply("instagram", "42", "18", NOW - timedelta(hours=1))
    await marks.await_reply("instagram", "42", "16", NOW - timedelta(hours=3))
    claim = await marks.claim("instagram", "42", NOW)
    assert claim is not None
    assert claim.comment_id == "18"


async def test_a_comment_older_than_seven_days_cannot_be_answered_privately() -> None:
    marks = PrivateReplies(MemoryCursors())
    await marks.await_reply("messenger", "42", "1_2", NOW - timedelta(days=7, seconds=1))
    assert await marks.claim("messenger", "42", NOW) is None
    pending = await marks.pending("messenger", "42")
    assert pending is not None
    assert pending.comment_id == "1_2"


async def test_a_released_claim_can_be_taken_again() -> None:
    marks = PrivateReplies(MemoryCursors())
    await marks.await_reply("messenger", "42", "1_2", NOW)
    claim = await marks.claim("messenger", "42", NOW)
    assert claim is not None
    await marks.release("messenger", "42", claim)
    again = await marks.claim("messenger", "42", NOW)
    assert again is not None
    assert (again.comment_id, again.previous) == (claim.comment_id, claim.previous)


def test_a_delivery_may_mix_direct_messages_and_comments() -> None:
    data = load("meta", MESSENGER_TEXT)
    feed = load("meta", FEED_COMMENT)["entry"][0]
    data["entry"].append(feed)
    dm, public = parse_delivery(data)
    assert comment_id(dm) is None
    assert comment_id(public) == "139560936744456_139620233405726"


@pytest.mark.parametrize(
    ("ref", "shown"), [("INC-12", "INC-12"), (" req-7 ", "REQ-7"), ("CHG-3", "CHG-3")]
)
def test_the_public_note_names_only_the_ticket(ref: str, shown: str) -> None:
    note = public_text(ref)
    assert note is not None
    assert shown in note
    assert "private message" in note


@pytest.mark.parametrize("ref", [None, "", "INC-", "INC-12 VPN down at Leeds", "TKT-1"])
def test_no_public_note_without_a_plain_ticket_reference(ref: str | None) -> None:
    assert public_text(ref) is None
