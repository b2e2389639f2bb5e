"""The Twilio form parsers: any signed form is an event, a report, or `PayloadError`.

Cheap enough for the CI profile's 10,000 examples per property: no HTTP, no SDK call.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.base import PayloadError
from channels.conversation import Action, Message, event_from_dict
from channels.twilio.parse import StatusReport, parse, parse_status
from channels.twilio.verify import Form
from tests.payloads import raw

BASES = [
    raw("twilio", "sms_incoming_botbuilder.form.txt"),
    raw("twilio", "sms_incoming_media_botbuilder.form.txt"),
    raw("twilio", "whatsapp_incoming.form.txt"),
    raw("twilio", "whatsapp_incoming_button.form.txt"),
    raw("twilio", "status_callback_delivered.form.txt"),
    raw("twilio", "status_callback_failed_unsubscribed.form.txt"),
]
NAMES = st.sampled_from(
    [
        "MessageSid",
        "SmsMessageSid",
        "SmsSid",
        "From",
        "To",
        "Body",
        "ProfileName",
        "ButtonPayload",
        "NumMedia",
        "MediaUrl0",
        "MediaUrl1",
        "MessageStatus",
        "ErrorCode",
    ]
)
VALUES = st.text(max_size=40) | st.sampled_from(
    [
        "",
        "\x00",
        "+442079460958",
        "whatsapp:+919876543210",
        "+8613800138000\x00",
        "whatsapp:",
        "+1A693421974",
        "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9\n",
        "approve:CHG-1\x00",
        "99999999999999999999",
        "²",
        "21610",
    ]
)


def _check(body: bytes) -> None:
    form = Form.parse(body)
    try:
        event = parse(form)
    except PayloadError:
        pass
    else:
        assert isinstance(event, Message | Action)
        stored = json.dumps(event.to_dict())
        # Stored as JSON in PostgreSQL, which refuses the NUL character.
        assert "\\u0000" not in stored
        assert event_from_dict(json.loads(stored)) == event
        assert event.address.user.startswith("+")
    try:
        report = parse_status(form)
    except PayloadError:
        return
    assert isinstance(report, StatusReport)
    assert "\x00" not in report.status


@settings(deadline=None)
@given(
    base=st.sampled_from(BASES),
    changes=st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=3),
)
def test_real_forms_with_fields_changed(base: bytes, changes: list[tuple[str, str]]) -> None:
    pairs = dict(Form.parse(base).pairs)
    pairs.update(changes)
    _check(urlencode(pairs).encode())


@settings(deadline=None)
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(body: bytes) -> None:
    _check(body)


@settings(deadline=None)
@given(text=st.text(max_size=80), profile=st.text(max_size=20))
def test_nul_characters_never_reach_the_model(text: str, profile: str) -> None:
    pairs = dict(Form.parse(BASES[2]).pairs)
    pairs.update(Body=text, ProfileName=profile)
    event = parse(Form.parse(urlencode(pairs).encode()))
    assert isinstance(event, Message)
    assert event.text == text.replace("\x00", "")
    assert event.sender.display_name is None or "\x00" not in event.sender.display_name
