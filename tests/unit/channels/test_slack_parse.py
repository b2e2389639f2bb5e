"""Slack's signature check and parsers, on the recorded payloads (no network, no app)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.signature import SignatureVerifier
from starlette.datastructures import Headers

from channels.base import PayloadError, SignatureError
from channels.conversation import Action, Message
from channels.slack.forms import FormError
from channels.slack.ids import NOTE_FORM, TICKET_FORM
from channels.slack.parse import parse_click, parse_event, parse_submission, permalink
from channels.slack.verify import REPLAY_WINDOW, verify
from tests.payloads import load, raw

VECTOR = load("slack", "signature_test_vector.json")
SECRET = VECTOR["signing_secret"]
BODY = VECTOR["body"].encode()
NOW = float(VECTOR["mock_clock_now"])


def headers(timestamp: str, signature: str) -> Headers:
    return Headers({"x-slack-request-timestamp": timestamp, "x-slack-signature": signature})


def signed(body: bytes, now: float, secret: str = SECRET) -> Headers:
    ts = str(int(now))
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body.decode())
    return headers(ts, sig)


# -- verify ---------------------------------------------------------------------------------


def test_known_answer_vector_is_accepted() -> None:
    h = VECTOR["headers"]
    verify(
        BODY,
        headers(h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"]),
        secret=SECRET,
        now=NOW,
    )


def test_known_answer_matches_the_sdk_verifier() -> None:
    h = VECTOR["headers"]
    sdk = SignatureVerifier(SECRET)
    expected = sdk.generate_signature(timestamp=h["X-Slack-Request-Timestamp"], body=BODY)
    assert expected == h["X-Slack-Signature"]


@pytest.mark.parametrize("skew", [REPLAY_WINDOW + 1, -(REPLAY_WINDOW + 1), 86_400])
def test_stale_or_future_timestamps_are_refused(skew: int) -> None:
    h = VECTOR["headers"]
    with pytest.raises(SignatureError, match="replay window"):
        verify(
            BODY,
            headers(h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"]),
            secret=SECRET,
            now=NOW + skew,
        )


def test_every_single_bit_flip_of_signature_or_body_is_refused() -> None:
    h = VECTOR["headers"]
    sig = h["X-Slack-Signature"]
    refused = 0
    for i in range(3, len(sig)):
        flipped = sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1 :]
        with pytest.raises(SignatureError):
            verify(BODY, headers(h["X-Slack-Request-Timestamp"], flipped), secret=SECRET, now=NOW)
        refused += 1
    for i in range(len(BODY)):
        body = bytearray(BODY)
        body[i] ^= 0x01
        with pytest.raises(SignatureError):
            verify(
                bytes(body), headers(h["X-Slack-Request-Timestamp"], sig), secret=SECRET, now=NOW
            )
        refused += 1
    assert refused > 200


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"x-slack-signature": "v0=" + "0" * 64},
        {"x-slack-request-timestamp": "1531420618"},
        {"x-slack-request-timestamp": "1531420618", "x-slack-signature": ""},
        {"x-slack-request-timestamp": "+1531420618", "x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": "1_531_420_618", "x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": "abc", "x-slack-signature": "v0=00"},
    ],
)
def test_unsigned_or_malformed_headers_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify(BODY, Headers(bad), secret=SECRET, now=NOW)


def test_repeated_signature_headers_are_refused() -> None:
    h = VECTOR["headers"]
    doubled = Headers(
        raw=[
            (b"x-slack-request-timestamp", h["X-Slack-Request-Timestamp"].encode()),
            (b"x-slack-signature", b"v0=" + b"0" * 64),
            (b"x-slack-signature", h["X-Slack-Signature"].encode()),
        ]
    )
    with pytest.raises(SignatureError, match="repeated"):
        verify(BODY, doubled, secret=SECRET, now=NOW)


def test_a_missing_secret_refuses_everything() -> None:
    h = VECTOR["headers"]
    with pytest.raises(SignatureError, match="not configured"):
        verify(
            BODY,
            headers(h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"]),
            secret="",
            now=NOW,
        )


def test_another_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="mismatch"):
        verify(BODY, signed(BODY, NOW, secret="another-secret"), secret=SECRET, now=NOW)


# -- events ---------------------------------------------------------------------------------


def test_app_mention_becomes_a_message_in_its_own_thread() -> None:
    body = load("slack", "events_api_app_mention.json")
    [msg] = parse_event(body, bot_user_id="W111")
    assert isinstance(msg, Message)
    assert msg.event_id == "Ev111"
    assert msg.text == "Hi there!"
    assert msg.address.workspace == "T111"
    assert msg.address.conversation == "C111"
    assert msg.address.thread == body["event"]["ts"]
    assert msg.address.user == "W222"
    assert msg.sender.platform == "slack"
    assert msg.sender.external_id == "W222"


def test_a_mention_without_known_bot_id_still_loses_the_leading_mention() -> None:
    [msg] = parse_event(load("slack", "events_api_app_mention.json"))
    assert msg.text == "Hi there!"


def test_dm_top_level_and_in_thread() -> None:
    [top] = parse_event(load("slack", "events_api_message_im.json"))
    assert isinstance(top, Message)
    assert top.text == "A top-level DM, not in a thread"
    assert top.address.conversation == "D111"
    assert top.address.thread == "1726133700.887259"
    [threaded] = parse_event(load("slack", "events_api_message_im_assistant_thread.json"))
    assert threaded.address.thread == "1726133698.626339"
    [docs] = parse_event(load("slack", "events_api_message_im_docs.json"))
    assert docs.event_id == "Ev0PV52K21"
    assert docs.address.user == "U2147483697"


@pytest.mark.parametrize(
    "name",
    [
        "events_api_message_channel.json",  # channel chatter: mentions arrive as app_mention
        "events_api_message_changed.json",
        "events_api_message_file_share.json",  # in a channel, not a mention
    ],
)
def test_events_not_meant_for_the_bot_yield_nothing(name: str) -> None:
    assert parse_event(load("slack", name)) == []


def test_url_verification_is_not_an_event() -> None:
    assert parse_event(load("slack", "events_api_url_verification.json")) == []


def test_a_file_shared_in_a_dm_keeps_its_link() -> None:
    body = load("slack", "events_api_message_file_share.json")
    body["event"]["channel_type"] = "im"
    [msg] = parse_event(body)
    assert isinstance(msg, Message)
    assert msg.attachments == ("https://xxx.slack.com/files/U111/F111/file.png",)


def test_own_and_other_bots_messages_are_ignored() -> None:
    body = load("slack", "events_api_message_im.json")
    own = copy.deepcopy(body)
    own["event"]["user"] = "W111"  # the bot user of `authorizations`
    assert parse_event(own) == []
    assert parse_event(body, bot_user_id="W222") == []
    other = copy.deepcopy(body)
    other["event"]["bot_id"] = "B999"
    assert parse_event(other) == []
    subtype = copy.deepcopy(body)
    subtype["event"]["subtype"] = "bot_message"
    assert parse_event(subtype) == []


def test_slack_markup_is_flattened_for_the_nlu() -> None:
    body = load("slack", "events_api_message_im.json")
    body["event"]["text"] = (
        "VPN down for <@U0BOB|bob> and <#C0NET|network> &amp; see <https://status.example.com|status>"
    )
    [msg] = parse_event(body)
    assert msg.text == ("VPN down for @bob and #network & see status (https://status.example.com)")


def test_malformed_envelopes_are_payload_errors() -> None:
    body = load("slack", "events_api_message_im.json")
    del body["event_id"]
    with pytest.raises(PayloadError):
        parse_event(body)
    body = load("slack", "events_api_message_im.json")
    body["event"] = "not an event"
    with pytest.raises(PayloadError):
        parse_event(body)


def app_home_opened() -> dict[str, Any]:
    """The envelope of the DM fixture around an `app_home_opened` event (Slack's docs shape)."""
    body = load("slack", "events_api_message_im.json")
    body["event_id"] = "Ev0HOME"
    body["event"] = {
        "type": "app_home_opened",
        "user": "W222",
        "channel": "D111",
        "event_ts": "1515449522000016",
        "tab": "home",
    }
    return body


def test_app_home_opened_asks_for_the_overview() -> None:
    [action] = parse_event(app_home_opened())
    assert isinstance(action, Action)
    assert action.name == "home"
    assert action.address.user == "W222"
    assert action.address.conversation == "D111"
    messages_tab = app_home_opened()
    messages_tab["event"]["tab"] = "messages"
    assert parse_event(messages_tab) == []


def test_socket_mode_envelopes_parse_like_http_ones() -> None:
    mention = load("slack", "socket_mode_envelope_events_api_app_mention.json")["payload"]
    # As recorded, `authorizations` names the author (U222) as the bot: its own event.
    assert parse_event(mention) == []
    mention["authorizations"][0]["user_id"] = "U111"
    [msg] = parse_event(mention)
    assert isinstance(msg, Message)
    assert msg.event_id == "Ev111"
    assert msg.text == ""
    channel = load("slack", "socket_mode_envelope_events_api_message.json")["payload"]
    assert parse_event(channel) == []


# -- interactivity --------------------------------------------------------------------------


def form_payload(name: str) -> dict[str, Any]:
    """The JSON inside a recorded `payload=` form body."""
    fields = dict(parse_qsl(raw("slack", name).decode()))
    loaded: dict[str, Any] = json.loads(fields["payload"])
    return loaded


def test_recorded_form_bodies_match_their_json() -> None:
    assert form_payload("interactivity_block_actions_button.form.txt") == load(
        "slack", "interactivity_block_actions_button.json"
    )


def test_button_click_on_a_message() -> None:
    [click] = parse_click(load("slack", "interactivity_block_actions_button.json"))
    assert click.name == "a"
    assert click.value == "click_me_123"
    assert click.params == {}
    assert click.message_id == "111.222"
    assert click.address.conversation == "C111"
    assert click.address.thread is None
    assert click.address.user == "W111"
    assert click.address.workspace == "T111"
    assert click.event_id == "click:111.222.valid"


def test_card_button_carries_action_and_version() -> None:
    body = load("slack", "interactivity_block_actions_button.json")
    body["actions"][0].update(action_id="approve:0", block_id="v3.0", value="CHG-12")
    [click] = parse_click(body)
    assert (click.name, click.value) == ("approve", "CHG-12")
    assert click.params == {"version": "3"}
    assert click.message_id == "111.222"


def test_home_click_is_answered_in_dm_and_refreshes_home() -> None:
    body = load("slack", "interactivity_block_actions_button.json")
    body["container"] = {"type": "view", "view_id": "V123"}
    body["view"] = {"id": "V123", "type": "home"}
    del body["channel"]
    body["actions"][0].update(action_id="resolve:1", block_id="v2.100", value="INC-4")
    click, refresh = parse_click(body)
    assert (click.name, click.value, click.params) == ("resolve", "INC-4", {"version": "2"})
    assert click.address.conversation == "W111"
    assert refresh.name == "home"
    assert refresh.event_id == click.event_id + ":home"


def submission(callback: str, values: dict[str, Any], meta: str = "") -> dict[str, Any]:
    body = load("slack", "interactivity_view_submission.json")
    body["view"]["callback_id"] = callback
    body["view"]["private_metadata"] = meta
    body["view"]["state"]["values"] = values
    return body


def text_value(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def choice(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def test_the_recorded_submission_of_another_form_is_not_ours() -> None:
    assert parse_submission(load("slack", "interactivity_view_submission.json")) is None


def test_ticket_form_submission() -> None:
    body = submission(
        TICKET_FORM,
        {
            "kind": {"kind": {"type": "radio_buttons", "selected_option": {"value": "request"}}},
            "summary": {"summary": text_value("  New   laptop please ")},
            "urgency": {"urgency": choice("low")},
            "description": {"description": text_value("Mine is 6 years old")},
        },
        meta=json.dumps({"link": "https://acme.slack.com/archives/C1/p1"}),
    )
    action = parse_submission(body)
    assert action is not None
    assert action.name == "file_ticket"
    assert action.event_id == "form:V111"
    assert action.address.conversation == "W111"
    assert dict(action.params) == {
        "kind": "request",
        "summary": "New laptop please",
        "urgency": "low",
        "description": "Mine is 6 years old",
        "link": "https://acme.slack.com/archives/C1/p1",
    }


def test_ticket_form_with_a_missing_summary_names_the_field() -> None:
    body = submission(
        TICKET_FORM,
        {"kind": {"kind": choice("incident")}, "urgency": {"urgency": choice("high")}},
    )
    with pytest.raises(FormError) as caught:
        parse_submission(body)
    assert set(caught.value.errors) == {"summary"}


def test_note_form_goes_back_to_the_card() -> None:
    meta = json.dumps({"ref": "INC-3", "channel": "C0INC", "thread": "1700.1"})
    action = parse_submission(
        submission(NOTE_FORM, {"note": {"note": text_value("rebooted")}}, meta)
    )
    assert action is not None
    assert (action.name, action.value, dict(action.params)) == (
        "add_note",
        "INC-3",
        {"note": "rebooted"},
    )
    assert (action.address.conversation, action.address.thread) == ("C0INC", "1700.1")
    with pytest.raises(FormError):
        parse_submission(submission(NOTE_FORM, {"note": {"note": text_value("  ")}}, meta))


def test_permalink_from_a_message_shortcut() -> None:
    body = load("slack", "socket_mode_envelope_interactive_shortcut.json")["payload"]
    body.update(
        type="message_action",
        channel={"id": "C0GEN", "name": "general"},
        message={"ts": "1610198080.300836", "text": "printer on 3 is jammed"},
    )
    assert permalink(body) == "https://testxyz.slack.com/archives/C0GEN/p1610198080300836"
    body["team"]["domain"] = "evil.example/x"
    assert permalink(body) == ""


def test_a_mention_inside_a_dm_is_taken_from_message_im_only() -> None:
    body = load("slack", "events_api_app_mention.json")
    body["event"]["channel"] = "D111"
    assert parse_event(body) == []


def test_a_body_that_is_not_utf8_is_refused_not_crashed() -> None:
    body = b'{"type": "event_callback", "x": "\xff\xfe"}'
    ts = str(int(NOW))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    with pytest.raises(SignatureError, match="UTF-8"):
        verify(body, headers(ts, "v0=" + mac.hexdigest()), secret=SECRET, now=NOW)


def test_a_signature_that_is_not_ascii_is_refused_not_crashed() -> None:
    h = VECTOR["headers"]
    with pytest.raises(SignatureError, match="malformed"):
        verify(BODY, {"x-slack-request-timestamp": h["X-Slack-Request-Timestamp"],
                      "x-slack-signature": "v0=ü" + "0" * 63}, secret=SECRET, now=NOW)  # fmt: skip
