"""The Twilio channel's pure parts: signatures, parsing, keywords, rendering, segments."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from channels.base import PayloadError, SignatureError
from channels.conversation import Action, Button, Message, Reply, TicketCard
from channels.twilio.constants import MAX_SEGMENTS
from channels.twilio.parse import parse, split_address
from channels.twilio.render import Choice, match_choice, render
from channels.twilio.rules import keyword
from channels.twilio.segments import fit_segments, is_gsm, segment_count, split_segments
from channels.twilio.send import delivery_error
from channels.twilio.verify import Form, signed_url, verify
from tests.payloads import load, raw

VECTOR = load("twilio", "signature_test_vector.json")


def _form_of(params: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(params).encode()


# -- signatures ------------------------------------------------------------------------------


def test_known_answer_vector() -> None:
    body = _form_of(VECTOR["params"])
    headers = {"x-twilio-signature": VECTOR["expected_signature"]}
    form = verify(body, headers, VECTOR["url"], VECTOR["auth_token"])
    assert form.get("CallSid") == "CA1234567890ABCDE"


def test_known_answer_vector_with_repeated_parameters() -> None:
    body = VECTOR["duplicate_params_form"].encode()
    headers = {"x-twilio-signature": VECTOR["duplicate_params_expected_signature"]}
    form = verify(body, headers, VECTOR["url"], VECTOR["auth_token"])
    assert sorted(form.getlist("Digits")) == ["1234", "1234", "5678"]


def test_known_answer_vector_with_explicit_port() -> None:
    url = VECTOR["url"].replace("https://mycompany.com", "http://mycompany.com:1234")
    body = _form_of(VECTOR["params"])
    headers = {"x-twilio-signature": VECTOR["http_with_port_1234_expected_signature"]}
    verify(body, headers, url, VECTOR["auth_token"])


def test_the_url_with_or_without_default_port_validates() -> None:
    body = _form_of(VECTOR["params"])
    headers = {"x-twilio-signature": VECTOR["expected_signature"]}
    verify(body, headers, "https://mycompany.com:443/myapp.php?foo=1&bar=2", VECTOR["auth_token"])


def _flip(sig: str, bit: int) -> str:
    data = bytearray(base64.b64decode(sig))
    data[bit // 8] ^= 1 << (bit % 8)
    return base64.b64encode(bytes(data)).decode()


def test_forgeries_are_refused() -> None:
    body = _form_of(VECTOR["params"])
    token, url, sig = VECTOR["auth_token"], VECTOR["url"], VECTOR["expected_signature"]
    forgeries: list[tuple[bytes, dict[str, str] | httpx.Headers, str, str | None]] = [
        (body, {}, url, token),
        (body, {"x-twilio-signature": ""}, url, token),
        (body, {"x-twilio-signature": sig}, url, "another-token"),
        (body, {"x-twilio-signature": sig}, url, None),
        (body, {"x-twilio-signature": sig}, url, ""),
        (body + b"&Extra=1", {"x-twilio-signature": sig}, url, token),
        (body.replace(b"1234", b"1235"), {"x-twilio-signature": sig}, url, token),
        (body, {"x-twilio-signature": sig}, url.replace("https", "http"), token),
        (body, {"x-twilio-signature": sig}, url.replace("mycompany", "evil"), token),
        (body, {"x-twilio-signature": sig}, url.replace("foo=1", "foo=2"), token),
        (body, {"x-twilio-signature": sig}, url.split("?")[0], token),
        (
            body,
            httpx.Headers([("x-twilio-signature", sig), ("x-twilio-signature", sig)]),
            url,
            token,
        ),
    ]
    forgeries += [(body, {"x-twilio-signature": _flip(sig, bit)}, url, token) for bit in range(160)]
    # The same parameters, re-serialised: another order is fine, another value is not.
    pairs = parse_qsl(body.decode())
    forgeries.append(
        (_form_of({k: v + " " for k, v in pairs}), {"x-twilio-signature": sig}, url, token)
    )
    for b, headers, u, t in forgeries:
        with pytest.raises(SignatureError):
            verify(b, headers, u, t)  # type: ignore[arg-type]
    verify(_form_of(dict(reversed(pairs))), {"x-twilio-signature": sig}, url, token)


def test_signature_compare_is_hmac_sha1_of_url_and_sorted_params() -> None:
    s = VECTOR["url"] + "".join(k + VECTOR["params"][k] for k in sorted(VECTOR["params"]))
    mac = hmac.new(VECTOR["auth_token"].encode(), s.encode(), hashlib.sha1).digest()
    assert base64.b64encode(mac).decode() == VECTOR["expected_signature"]


def test_signed_url_uses_public_url_behind_a_proxy() -> None:
    assert signed_url("http://10.0.0.5:8000/twilio/messages", None) == (
        "http://10.0.0.5:8000/twilio/messages"
    )
    assert (
        signed_url("http://10.0.0.5:8000/twilio/messages?x=1", "https://sb.example.com/")
        == "https://sb.example.com/twilio/messages?x=1"
    )


# -- parse -----------------------------------------------------------------------------------


def test_recorded_sms_parses() -> None:
    event = parse(Form.parse(raw("twilio", "sms_incoming_botbuilder.form.txt")))
    assert isinstance(event, Message)
    assert event.event_id == "SMa56324aa4a31735561b7205472192d68"
    assert event.text == "Hello"
    assert event.address.channel == "sms"
    assert event.address.conversation == event.address.user == "+571138050810"
    assert event.sender.platform == "phone"
    assert event.sender.external_id == "+571138050810"


def test_recorded_mms_keeps_the_media_url() -> None:
    event = parse(Form.parse(raw("twilio", "sms_incoming_media_botbuilder.form.txt")))
    assert isinstance(event, Message)
    assert event.attachments == ("www.google.com",)


def test_recorded_whatsapp_parses() -> None:
    event = parse(Form.parse(raw("twilio", "whatsapp_incoming.form.txt")))
    assert isinstance(event, Message)
    assert event.address.channel == "whatsapp"
    assert event.address.user == "+14155550123"
    assert event.sender.display_name == "Dana Example"
    assert event.text == "my order page keeps crashing"


def test_recorded_whatsapp_button_is_an_action() -> None:
    event = parse(Form.parse(raw("twilio", "whatsapp_incoming_button.form.txt")))
    assert isinstance(event, Action)
    assert (event.name, event.value) == ("approve", "CHG-12")


@pytest.mark.parametrize(
    "body",
    [
        b"Body=hi&From=%2B14155550123",  # no MessageSid
        b"Body=hi&From=not-a-number&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        b"Body=hi&From=12345&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        b"Body=hi&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    ],
)
def test_unusable_messages_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse(Form.parse(body))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("whatsapp:+14155550123", ("whatsapp", "+14155550123")),
        ("+442079460958", ("sms", "+442079460958")),
        ("whatsapp:+919876543210", ("whatsapp", "+919876543210")),
        # Ofcom's drama range: unallocated, but a possible UK mobile; Twilio vouches for it.
        ("+447700900123", ("sms", "+447700900123")),
        # WhatsApp still writes Mexican mobiles with the `1` Mexico dropped in 2019.
        ("whatsapp:+5215512345678", ("whatsapp", "+5215512345678")),
        ("+8613800138000", ("sms", "+8613800138000")),
        ("+4915123456789", ("sms", "+4915123456789")),
    ],
)
def test_senders_are_e164(value: str, expected: tuple[str, str]) -> None:
    assert split_address(value) == expected


@pytest.mark.parametrize("value", ["4155550123", "+1A693421974", "whatsapp:", "+999123456789"])
def test_senders_that_are_not_numbers_are_payload_errors(value: str) -> None:
    with pytest.raises(PayloadError):
        split_address(value)


@pytest.mark.parametrize(
    ("text", "channel", "opted_out", "expected"),
    [
        ("STOP", "sms", False, "stop"),
        (" stop ", "sms", False, "stop"),
        ("Unsubscribe", "sms", False, "stop"),
        ("cancel", "sms", False, "stop"),
        ("cancel", "whatsapp", False, None),
        ("START", "sms", True, "start"),
        ("yes", "sms", True, "start"),
        ("yes", "sms", False, None),
        ("HELP", "whatsapp", False, "help"),
        ("help me, my laptop is broken", "sms", False, None),
        ("stop the printer from jamming", "sms", False, None),
    ],
)
def test_keywords(text: str, channel: str, opted_out: bool, expected: str | None) -> None:
    assert keyword(text, channel, opted_out=opted_out) == expected


# -- render ----------------------------------------------------------------------------------


def _approval() -> Reply:
    return Reply(
        text="Alice requests **CHG-12**: restart mail. Approve or reject?",
        card=TicketCard(
            ref="CHG-12", title="Restart mail", kind="change", status="awaiting approval"
        ),
        buttons=(
            Button(label="Approve", action="approve", value="CHG-12"),
            Button(label="Reject", action="reject", value="CHG-12"),
        ),
    )


def test_buttons_become_numbered_choices_naming_the_ticket() -> None:
    out = render(_approval())
    assert "Reply 1 to approve CHG-12" in out.body
    assert "Reply 2 to reject CHG-12" in out.body
    assert "**" not in out.body
    assert "CHG-12 - Restart mail" in out.body  # the card's middle dot, made GSM
    assert is_gsm(out.body)
    assert out.choices == (
        Choice(key="1", action="approve", value="CHG-12"),
        Choice(key="2", action="reject", value="CHG-12"),
    )
    assert match_choice(" 1. ", out.choices) == out.choices[0]
    assert match_choice("3", out.choices) is None


def test_keywords_replace_numbers_when_given() -> None:
    reply = Reply(
        text="Confirm?", buttons=(Button(label="Yes", action="confirm", keyword="YES 4821"),)
    )
    out = render(reply)
    assert "Reply YES 4821 to yes" in out.body
    assert match_choice("yes 4821", out.choices) == Choice("YES 4821", "confirm", "")


def test_segments() -> None:
    assert segment_count("a" * 160) == 1
    assert segment_count("a" * 161) == 2
    assert segment_count("a" * 306) == 2
    assert segment_count("a" * 307) == 3
    assert segment_count("€" * 80) == 1  # extension characters take two septets
    assert segment_count("€" * 81) == 2
    assert segment_count("é" * 160) == 1  # in the GSM basic set
    assert segment_count("ł" * 70) == 1  # not in GSM: UCS-2
    assert segment_count("ł" * 71) == 2
    assert segment_count("😀" * 35) == 1  # two UTF-16 units each
    assert segment_count("😀" * 36) == 2


def test_split_segments_cuts_where_concatenated_sms_does() -> None:
    parts = split_segments("a" * 400)
    assert [len(p) for p in parts] == [153, 153, 94]
    parts = split_segments("ł" * 100)
    assert [len(p) for p in parts] == [67, 33]
    parts = split_segments("€" * 100)
    assert all(sum(2 for _ in p) <= 153 for p in parts)
    emoji = split_segments("😀" * 50)
    assert "".join(emoji) == "😀" * 50
    assert all(len(p.encode("utf-16-le")) // 2 <= 67 for p in emoji)


def test_long_replies_are_capped_at_a_segment_boundary() -> None:
    words = " ".join(f"word{i}" for i in range(1000))
    out = fit_segments(words)
    assert segment_count(out) <= MAX_SEGMENTS
    assert out.endswith("...")
    assert words.startswith(out[:-3])
    assert out[:-3].split()[-1] in words.split()  # cut between words
    assert len(out) > 153 * (MAX_SEGMENTS - 1)  # and not much earlier than needed
    unicode_text = "ł" * 2000
    capped = fit_segments(unicode_text)
    assert segment_count(capped) <= MAX_SEGMENTS
    assert capped.endswith("…")


def test_whatsapp_keeps_unicode_and_caps_length() -> None:
    out = render(Reply(text="• ünïcode " * 400), "whatsapp")
    assert "•" in out.body
    assert len(out.body) <= 1600


# -- errors ----------------------------------------------------------------------------------


def test_rest_errors() -> None:
    def err(status: int, code: int | None) -> TwilioRestException:
        return TwilioRestException(status, "/Messages.json", msg="x", code=code, method="POST")

    too_many = delivery_error(err(429, 20429), "sms")
    assert too_many.retry_after is not None
    assert not too_many.permanent
    assert delivery_error(err(400, 21610), "sms").permanent
    assert delivery_error(err(400, 21211), "sms").permanent
    assert delivery_error(err(400, 63016), "whatsapp").permanent
    server = delivery_error(err(503, None), "sms")
    assert not server.permanent
    assert server.retry_after is None
    assert not delivery_error(err(401, 20003), "sms").permanent


def test_overview_sections_read_as_lists() -> None:
    from channels.conversation import Section

    card = TicketCard(ref="INC-4", title="VPN down", kind="incident", status="new", priority="P1")
    reply = Reply(
        text="Hi Carol.",
        overview=True,
        sections=(
            Section(
                title="Waiting for your approval",
                cards=(card,),
                buttons=(Button(label="Approve", action="approve", value="INC-4"),),
            ),
            Section(title="Your open tickets", empty="Nothing open."),
        ),
    )
    out = render(reply)
    assert "Waiting for your approval\n- INC-4 - VPN down (new, P1)" in out.body
    assert "Nothing open." in out.body
    assert out.choices == ()
