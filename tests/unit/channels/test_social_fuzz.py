"""The X parsers never raise anything but `PayloadError`, whatever a signed body holds."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import PayloadError
from channels.conversation import Reply, event_from_dict
from channels.social import (
    PUBLIC_TEXT,
    parse_activity,
    parse_dm_events,
    parse_mentions,
    render,
    tweet_length,
)
from tests.fakes.x_api import activity_tweets, v1_tweet
from tests.payloads import load

US = "2244994945"
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "id",
        "id_str",
        "text",
        "user",
        "entities",
        "extended_tweet",
        "truncated",
        "created_at",
        "created_timestamp",
        "retweeted_status",
        "in_reply_to_user_id_str",
        "message_create",
        "sender_id",
        "type",
        "event_type",
        "dm_conversation_id",
        "author_id",
        "referenced_tweets",
    ]
)

_TWEET = v1_tweet(
    "@TwitterDev the VPN is down",
    tweet_id="1924465506158878979",
    author_id="3001969357",
    screen_name="jb",
    mentions=[(US, "TwitterDev")],
)
BASES = [
    load("twitter", "docs_aaa_direct_message_events.json"),
    json.loads(activity_tweets(_TWEET, for_user_id=US)),
    load("twitter", "docs_v2_user_mentions_response.json"),
]


def _mutate(doc: Any, path: list[str], value: Any) -> Any:
    """Replace one field somewhere inside `doc`, walking `path` (first item of each list)."""
    doc = copy.deepcopy(doc)
    node, keys = doc, list(path)
    while keys:
        if isinstance(node, list) and node:
            node = node[0]
            continue
        if not isinstance(node, dict) or not node:
            break
        key = keys.pop(0)
        name = key if key in node else sorted(node)[0]
        if keys and isinstance(node[name], dict | list):
            node = node[name]
            continue
        node[name] = value
        break
    return doc


def _all_parsers(body: Any) -> None:
    for parse in (
        lambda b: parse_activity(b),
        lambda b: parse_activity(b, account_id=US),
        lambda b: parse_mentions(b, account_id=US),
        lambda b: parse_dm_events(b, account_id=US),
    ):
        try:
            events = parse(body)
        except PayloadError:
            continue
        for event in events:
            assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON)
def test_arbitrary_json(body: Any) -> None:
    _all_parsers(body)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    path=st.lists(FIELDS, min_size=1, max_size=4),
    value=JSON,
)
def test_real_payloads_with_one_field_changed(base: Any, path: list[str], value: Any) -> None:
    _all_parsers(_mutate(base, ["for_user_id", *path], value))
    _all_parsers(_mutate(base, ["tweet_create_events", *path], value))
    _all_parsers(_mutate(base, ["direct_message_events", *path], value))
    _all_parsers(_mutate(base, ["data", *path], value))


@settings(max_examples=300, deadline=None)
@given(text=st.text(), ref=st.text(max_size=12), public=st.booleans())
def test_render_never_puts_more_than_a_tweet_in_public(text: str, ref: str, public: bool) -> None:
    rendered = render(Reply(text=text, ticket_ref=ref or None, public=public))
    if rendered.public is not None:
        assert tweet_length(rendered.public) <= 280
        if not (public and text.strip()):
            # Only the composed line, around a well-formed reference, is ever public.
            assert rendered.public == PUBLIC_TEXT.format(ref=ref.strip().upper())
    assert len(rendered.direct) <= 10_000
