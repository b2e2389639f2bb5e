"""The Telegram update parser: any body is events, an ignored update, or `PayloadError`.

Cheap enough for the CI profile's 10,000 examples per property: no HTTP, one PTB parse each.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import PayloadError
from channels.conversation import Action, Message, event_from_dict
from channels.telegram.channel import TelegramChannel
from channels.telegram.parse import BotInfo, MalformedUpdate, Parsed, read_update
from tests.fakes.telegram_api import callback_update, private_update
from tests.payloads import load

ME = BotInfo(id=777, username="SwitchboardBot")
CHANNEL = TelegramChannel(token="123456:" + "A" * 35, secret_token="s", webhook=True)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["\x00", "a\x00b", "/start\x00", "@SwitchboardBot", "#1", "approve||CHG-1"])
)
FIELDS = st.sampled_from(
    [
        "update_id",
        "message",
        "edited_message",
        "callback_query",
        "from",
        "chat",
        "id",
        "type",
        "is_bot",
        "first_name",
        "last_name",
        "username",
        "text",
        "caption",
        "entities",
        "caption_entities",
        "offset",
        "length",
        "user",
        "date",
        "reply_to_message",
        "message_thread_id",
        "is_topic_message",
        "photo",
        "document",
        "file_id",
        "data",
        "message_id",
    ]
)
# Flat values, lists and objects of them: a recursive strategy costs more to draw than the
# parse it feeds, and one level is what PTB's field readers look at.
JSON = (
    SCALARS
    | st.lists(SCALARS, max_size=3)
    | st.dictionaries(FIELDS | st.text(max_size=6), SCALARS, max_size=3)
)
_SENT = {
    "message_id": 1000,
    "date": 1700000000,
    "chat": {"id": 5550102, "type": "private", "first_name": "Bob"},
    "from": {"id": 777, "is_bot": True, "first_name": "Switchboard"},
    "text": "CHG-3 · Restart mail",
}
BASES = [
    private_update(5001, "my laptop will not start"),
    private_update(5002, "/start"),
    callback_update(5003, "approve|2|CHG-3", message=_SENT),
    callback_update(5004, "#2", message=_SENT),
    load("telegram", "docs_update_message_entities.json"),
    load("telegram", "teloxide_update_message_supergroup_bot_command_reply.json"),
    load("telegram", "docs_update_message_document.json"),
    {"update_id": 5005, "message": load("telegram", "teloxide_message_photo.message.json")},
    load("telegram", "docs_update_inline_query.json"),
]


def _mutate(doc: Any, path: list[str], value: Any) -> Any:
    """Replace (or add) one field inside `doc`, walking `path` through the first list items."""
    doc = copy.deepcopy(doc)
    node, keys = doc, list(path)
    while keys:
        if isinstance(node, list):
            if not node:
                break
            node = node[0]
            continue
        if not isinstance(node, dict):
            break
        key = keys.pop(0)
        if keys and isinstance(node.get(key), dict | list):
            node = node[key]
            continue
        node[key] = value
        break
    return doc


def _check(body: bytes) -> None:
    try:
        parsed = read_update(body, ME)
    except MalformedUpdate:
        # The webhook answers these 200 and quarantines them, so Telegram stops retrying.
        assert CHANNEL.read(body) == Parsed(ignored="quarantined")
        return
    except PayloadError:
        return
    assert isinstance(parsed, Parsed)
    for event in parsed.events:
        assert isinstance(event, Message | Action)
        stored = json.dumps(event.to_dict())
        # Stored as JSON in PostgreSQL, which refuses the NUL character.
        assert "\\u0000" not in stored
        assert event_from_dict(json.loads(stored)) == event


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(BASES), path=st.lists(FIELDS, min_size=1, max_size=4), value=JSON)
def test_real_updates_with_one_field_changed(base: Any, path: list[str], value: Any) -> None:
    _check(json.dumps(_mutate(base, path, value)).encode())


@settings(deadline=None)
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes(body: bytes) -> None:
    _check(body)


@settings(deadline=None)
@given(text=st.text(min_size=1, max_size=80))
def test_nul_characters_never_reach_the_model(text: str) -> None:
    body = json.dumps(private_update(6001, text)).encode()
    parsed = read_update(body, ME)
    for event in parsed.events:
        assert isinstance(event, Message)
        assert "\x00" not in event.text
    cleaned = text.replace("\x00", "")
    # A text that is a command once its NUL characters are gone is read as that command.
    if parsed.events and not cleaned.startswith("/"):
        [event] = parsed.events
        assert event.text == cleaned


def test_a_nul_only_text_is_ignored_and_a_nul_inside_is_dropped() -> None:
    assert read_update(json.dumps(private_update(6002, "\x00\x00")).encode()).ignored == "no text"
    [event] = read_update(json.dumps(private_update(6003, "VPN\x00 down")).encode()).events
    assert isinstance(event, Message)
    assert event.text == "VPN down"


def test_an_update_id_must_be_a_number() -> None:
    update = private_update(6004, "hello")
    update["update_id"] = True
    with pytest.raises(MalformedUpdate, match="update_id"):
        read_update(json.dumps(update).encode())
