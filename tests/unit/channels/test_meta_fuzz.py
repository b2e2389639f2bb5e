"""The Meta parser never raises anything but `PayloadError`, whatever a signed body holds.

Each example is a few small dictionaries walked once with no I/O, so the property takes the
profile's example count (10,000 under `fuzz`).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import PayloadError
from channels.conversation import Action, Message
from channels.meta.parse import decode_body, parse_delivery
from tests.payloads import load
from tests.unit.channels.fuzzing import assert_survives_the_inbox, json_values

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
JSON = json_values(SCALARS, max_leaves=8)
FIELDS = st.sampled_from(
    [
        "object",
        "entry",
        "messaging",
        "sender",
        "recipient",
        "id",
        "timestamp",
        "message",
        "postback",
        "mid",
        "text",
        "title",
        "payload",
        "quick_reply",
        "attachments",
        "is_echo",
        "url",
        "field",
        "value",
        "changes",
        "from",
        "item",
        "verb",
        "comment_id",
        "created_time",
        "username",
        "time",
    ]
)
DOCUMENTED = [
    load("meta", name)
    for name in (
        "messenger_message_reply_to.json",
        "messenger_message_quick_reply.json",
        "messenger_message_attachment.json",
        "messenger_postback.json",
        "instagram_message.json",
        "messenger_feed_comment.json",
        "messenger_feed_comment_by_page.json",
        "instagram_comment.json",
    )
]


def _check(payload: Any) -> None:
    try:
        found = (
            parse_delivery(payload)
            if isinstance(payload, dict)
            else decode_body(json.dumps(payload).encode())
        )
    except PayloadError:
        return
    if isinstance(found, list):
        for event in found:
            assert isinstance(event, Message | Action)
            assert event.address.conversation.isdigit()
            # Every event survives the inbox's JSON round trip.
            assert_survives_the_inbox(event)


def _mutate(node: Any, path: list[int], value: Any, key: str) -> Any:
    """Replace (or add) one field somewhere inside a documented body."""
    if isinstance(node, dict) and node:
        keys = sorted(node)
        k = keys[path[0] % len(keys)] if path else key
        out = dict(node)
        if len(path) <= 1:
            out[key if not path else k] = value
        else:
            out[k] = _mutate(node[k], path[1:], value, key)
        return out
    if isinstance(node, list) and node and path:
        out_list = list(node)
        i = path[0] % len(node)
        out_list[i] = _mutate(node[i], path[1:], value, key)
        return out_list
    return value


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_is_events_or_a_payload_error(payload: Any) -> None:
    _check(payload)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(DOCUMENTED),
    st.lists(st.integers(min_value=0, max_value=20), max_size=6),
    JSON,
    FIELDS,
)
def test_documented_bodies_with_one_field_changed_are_events_or_a_payload_error(
    base: dict[str, Any], path: list[int], value: Any, key: str
) -> None:
    _check(_mutate(base, path, value, key))


@given(st.binary(max_size=200))
def test_any_bytes_are_a_json_object_or_a_payload_error(data: bytes) -> None:
    try:
        decoded = decode_body(data)
    except PayloadError:
        return
    assert isinstance(decoded, dict)
