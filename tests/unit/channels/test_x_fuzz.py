"""The X parsers never raise anything but `PayloadError`, whatever a signed body holds.

The parser properties take the profile's example count (10,000 under `fuzz`): each example
is a few small dictionaries walked once, with no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import PayloadError
from channels.conversation import Message, Reply
from channels.x.parse import parse_activity, parse_dm_events, parse_mentions
from channels.x.render import PUBLIC_TEXT, render, tweet_length
from tests.fakes.x_api import activity_tweets, v1_tweet
from tests.payloads import load
from tests.unit.channels.fuzzing import assert_survives_the_inbox, json_values, mutate

US = "2244994945"
EVENT_ID = re.compile(r"(?:tweet|dm):[0-9]{1,25}")
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
JSON = json_values(SCALARS, max_leaves=8)
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

IDS = (
    st.just(US)
    | st.integers(min_value=-(10**3), max_value=10**26).map(str)
    | st.integers(min_value=0, max_value=10**20)
    | SCALARS
)
TIMES = (
    st.sampled_from(["Mon May 19 14:01:46 +0000 2025", "2025-05-19T14:01:46.000Z"])
    | st.integers(min_value=0, max_value=10**30).map(str)
    | st.text(max_size=30)
)
TEXT = st.text(max_size=60) | st.sampled_from(["@TwitterDev VPN down", "&amp; @a @b hi"])
V1_TWEET = st.fixed_dictionaries(
    {},
    optional={
        "id_str": IDS,
        "id": IDS,
        "user": st.fixed_dictionaries({}, optional={"id_str": IDS, "screen_name": TEXT}),
        "text": TEXT,
        "truncated": st.booleans(),
        "extended_tweet": st.fixed_dictionaries({}, optional={"full_text": TEXT}),
        "entities": st.fixed_dictionaries(
            {},
            optional={
                "user_mentions": st.lists(st.fixed_dictionaries({"id_str": IDS}), max_size=2)
            },
        ),
        "created_at": TIMES,
        "in_reply_to_user_id_str": IDS,
        "retweeted_status": SCALARS,
    },
)
V1_DM = st.fixed_dictionaries(
    {"type": st.sampled_from(["message_create", "typing"]) | SCALARS},
    optional={
        "id": IDS,
        "created_timestamp": TIMES,
        "message_create": st.fixed_dictionaries(
            {},
            optional={
                "sender_id": IDS,
                "message_data": st.fixed_dictionaries({}, optional={"text": TEXT}),
            },
        ),
    },
)
ACTIVITY = st.fixed_dictionaries(
    {"for_user_id": st.just(US) | IDS},
    optional={
        "tweet_create_events": st.lists(V1_TWEET, max_size=2) | SCALARS,
        "direct_message_events": st.lists(V1_DM, max_size=2) | SCALARS,
        "user_has_blocked": st.sampled_from(["true", "false", True, False]) | SCALARS,
        "users": st.dictionaries(st.just(US) | st.text(max_size=4), SCALARS, max_size=2),
    },
)
V2_PAGE = st.fixed_dictionaries(
    {},
    optional={
        "data": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": IDS,
                    "author_id": IDS,
                    "sender_id": IDS,
                    "text": TEXT,
                    "event_type": st.sampled_from(["MessageCreate", "ParticipantsJoin"]),
                    "dm_conversation_id": st.sampled_from([f"{US}-42", "42-7", ""]) | SCALARS,
                    "created_at": TIMES,
                    "referenced_tweets": st.lists(
                        st.fixed_dictionaries({"type": st.sampled_from(["retweeted", "quoted"])}),
                        max_size=2,
                    ),
                },
            ),
            max_size=2,
        )
        | SCALARS,
        "includes": st.fixed_dictionaries({}, optional={"users": st.lists(SCALARS, max_size=2)}),
    },
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


_PARSERS: tuple[Callable[[Any], list[Message]], ...] = (
    lambda b: parse_activity(b),
    lambda b: parse_activity(b, account_id=US),
    lambda b: parse_mentions(b, account_id=US),
    lambda b: parse_dm_events(b, account_id=US),
)


def _all_parsers(body: Any) -> None:
    for parse in _PARSERS:
        try:
            events = parse(body)
        except PayloadError:
            continue
        for event in events:
            assert isinstance(event, Message)
            assert event.address.channel == "x"
            assert EVENT_ID.fullmatch(event.event_id)
            assert event.sender.external_id.isdigit()
            if parse is not _PARSERS[0]:
                assert event.sender.external_id != US  # our own words never come back
            assert_survives_the_inbox(event)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON | ACTIVITY | V2_PAGE)
def test_any_body_gives_events_or_a_payload_error(body: Any) -> None:
    _all_parsers(body)


SMALL = (
    SCALARS
    | st.lists(SCALARS, max_size=2)
    | st.dictionaries(st.text(max_size=4), SCALARS, max_size=2)
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    root=st.sampled_from(["for_user_id", "tweet_create_events", "direct_message_events", "data"]),
    path=st.lists(FIELDS, min_size=1, max_size=4),
    value=SMALL,
)
def test_real_payloads_with_one_field_changed(
    base: Any, root: str, path: list[str], value: Any
) -> None:
    _all_parsers(mutate(base, [root, *path], value))


@settings(deadline=None)
@given(text=st.text(), ref=st.text(max_size=12), public=st.booleans())
def test_render_never_puts_more_than_a_tweet_in_public(text: str, ref: str, public: bool) -> None:
    rendered = render(Reply(text=text, ticket_ref=ref or None, public=public))
    if rendered.public is not None:
        assert tweet_length(rendered.public) <= 280
        if not (public and text.strip()):
            # Only the composed line, around a well-formed reference, is ever public.
            assert rendered.public == PUBLIC_TEXT.format(ref=ref.strip().upper())
    assert len(rendered.direct) <= 10_000
