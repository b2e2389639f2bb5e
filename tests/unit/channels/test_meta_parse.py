"""Meta's documented webhook bodies as conversation events; malformed ones as `PayloadError`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from channels.base import PayloadError
from channels.conversation import Action, Message
from channels.meta.parse import decode_body, decode_payload, encode_payload, parse_delivery
from tests.fakes.meta_api import IG_ACCOUNT, IGSID, PAGE_ID, PSID, body
from tests.payloads import raw


def events(name: str) -> list[Message | Action]:
    return parse_delivery(decode_body(raw("meta", name)))  # type: ignore[return-value]


def test_a_messenger_text_is_a_message_from_the_page_scoped_id() -> None:
    [m] = events("messenger_message_reply_to.json")
    assert isinstance(m, Message)
    assert m.event_id == "m_1457764197618:41d102a3e1ae206a38"
    assert m.text == "hello, world!"
    assert m.address.channel == "messenger"
    assert (m.address.conversation, m.address.user, m.address.workspace) == (PSID, PSID, PAGE_ID)
    assert (m.sender.platform, m.sender.external_id) == ("messenger", PSID)
    assert m.received_at == datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)
    assert m.direct


def test_an_instagram_message_is_an_instagram_identity() -> None:
    [m] = events("instagram_message.json")
    assert isinstance(m, Message)
    assert (m.event_id, m.text) == ("MESSAGE-ID", "MESSAGE-TEXT")
    assert m.address.channel == "instagram"
    assert (m.address.conversation, m.address.workspace) == (IGSID, IG_ACCOUNT)
    assert (m.sender.platform, m.sender.external_id) == ("instagram", IGSID)


def test_a_quick_reply_someone_else_made_is_read_as_its_text() -> None:
    [m] = events("messenger_message_quick_reply.json")
    assert isinstance(m, Message)
    assert m.text == "hello, world!"


def test_an_attachment_alone_is_a_message_carrying_its_url() -> None:
    [m] = events("messenger_message_attachment.json")
    assert isinstance(m, Message)
    assert m.attachments == ("https://scontent.example.invalid/attachment.png",)


def test_a_postback_of_our_own_button_is_an_action_and_a_foreign_one_its_title() -> None:
    [foreign] = events("messenger_postback.json")
    assert isinstance(foreign, Message)
    assert (foreign.event_id, foreign.text) == ("m_MESSAGE-ID", "TITLE-FOR-THE-CTA")
    # The documented timestamp is a string of seconds.
    assert foreign.received_at == datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC)

    ours = encode_payload("approve", "CHG-12", 3)
    [action] = parse_delivery(
        decode_body(body("messenger_postback.json", payload=ours, text="Approve"))
    )
    assert isinstance(action, Action)
    assert (action.name, action.value, dict(action.params)) == (
        "approve",
        "CHG-12",
        {"version": "3"},
    )
    assert action.event_id == "m_MESSAGE-ID"


def test_a_quick_reply_of_our_own_is_an_action() -> None:
    payload = encode_payload("resolve", "INC-4")
    [action] = parse_delivery(decode_body(body("instagram_message.json", payload=payload)))
    assert isinstance(action, Action)
    assert (action.name, action.value, action.address.channel) == ("resolve", "INC-4", "instagram")


@pytest.mark.parametrize(
    "name", ["messenger_message_reads.json", "messenger_postback_user_ref.json"]
)
def test_reads_and_dashboard_samples_are_ignored(name: str) -> None:
    assert events(name) == []


def test_echoes_of_our_own_messages_and_other_objects_are_ignored() -> None:
    data = json.loads(raw("meta", "messenger_message_reply_to.json"))
    data["entry"][0]["messaging"][0]["message"]["is_echo"] = True
    assert parse_delivery(data) == []
    data["object"] = "whatsapp_business_account"
    assert parse_delivery(data) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.pop("object"), "object"),
        (lambda d: d.update(entry={"id": "1"}), "entry"),
        (lambda d: d["entry"][0].update(messaging="x"), "messaging"),
        (lambda d: d["entry"][0]["messaging"][0].update(sender={"id": "not-an-id"}), "sender.id"),
        (lambda d: d["entry"][0]["messaging"][0].update(timestamp=None), "timestamp"),
        (lambda d: d["entry"][0]["messaging"][0]["message"].pop("mid"), "message.mid"),
        (lambda d: d["entry"][0]["messaging"][0]["message"].update(text=5), "message.text"),
    ],
)
def test_malformed_bodies_name_the_problem(change: object, named: str) -> None:
    data = json.loads(raw("meta", "messenger_message_reply_to.json"))
    change(data)  # type: ignore[operator]
    with pytest.raises(PayloadError, match=named.replace(".", r"\.")):
        parse_delivery(data)


@pytest.mark.parametrize("raw_body", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000])
def test_bodies_that_are_not_a_json_object_are_payload_errors(raw_body: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_body(raw_body)


def test_button_payloads_round_trip_and_foreign_ones_are_not_ours() -> None:
    assert decode_payload(encode_payload("approve", "CHG-1|x", 7)) == ("approve", "CHG-1|x", "7")
    assert decode_payload(encode_payload("greet", "")) == ("greet", "", "")
    for foreign in ("DEVELOPER_DEFINED_PAYLOAD", "sb1|Bad|1|x", "sb1|ok|v1|x", "sb1|ok"):
        assert decode_payload(foreign) is None
