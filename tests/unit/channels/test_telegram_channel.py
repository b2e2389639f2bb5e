"""The Telegram channel's pure parts: secret check, update parsing, callback data, rendering."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from channels.base import ConfigurationError, PayloadError, SignatureError
from channels.conversation import Action, Button, Message, Reply, TicketCard
from channels.telegram.callback_data import decode_callback, encode_callback
from channels.telegram.channel import TelegramChannel
from channels.telegram.parse import BotInfo, MalformedUpdate, decode, parse, to_update
from channels.telegram.render import escape, render
from channels.telegram.send import delivery_error
from channels.telegram.verify import verify
from tests.payloads import load, raw

ME = BotInfo(id=777, username="SwitchboardBot")
SECRET = "s3cret_token-ABC"


def update_of(name: str) -> dict:
    return load("telegram", name)


def parsed(data: dict, me: BotInfo | None = ME):  # type: ignore[no-untyped-def]
    return parse(to_update(data), me)


# -- verify ----------------------------------------------------------------------------------


def test_verify_accepts_the_configured_secret() -> None:
    verify({"x-telegram-bot-api-secret-token": SECRET}, SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-telegram-bot-api-secret-token": ""},
        {"x-telegram-bot-api-secret-token": SECRET + "x"},
        {"x-telegram-bot-api-secret-token": SECRET[:-1]},
        {"x-telegram-bot-api-secret-token": SECRET.upper()},
    ],
)
def test_verify_refuses_missing_or_wrong_secret(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify(headers, SECRET)


def test_verify_refuses_a_repeated_header() -> None:
    headers = httpx.Headers(
        [("x-telegram-bot-api-secret-token", SECRET), ("x-telegram-bot-api-secret-token", SECRET)]
    )
    with pytest.raises(SignatureError):
        verify(headers, SECRET)  # type: ignore[arg-type]


def test_verify_fails_closed_without_a_secret() -> None:
    with pytest.raises(SignatureError):
        verify({"x-telegram-bot-api-secret-token": ""}, None)


def test_webhook_mode_needs_a_secret() -> None:
    with pytest.raises(ConfigurationError, match="TELEGRAM_SECRET_TOKEN"):
        TelegramChannel(token="1:x", secret_token=None, webhook=True)
    with pytest.raises(ConfigurationError, match="A-Z"):
        TelegramChannel(token="1:x", secret_token="has spaces", webhook=True)
    TelegramChannel(token="1:x", secret_token=None, webhook=False)


# -- decode and parse ------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        decode(b"{not json")
    with pytest.raises(PayloadError):
        decode(b"\xff\xfe")
    with pytest.raises(MalformedUpdate):
        decode(b"[1, 2]")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"update_id": "7"},
        {"update_id": 1, "message": {"message_id": 1}},
        {"update_id": 1, "message": 5},
    ],
)
def test_malformed_updates_are_recognised(data: dict) -> None:
    with pytest.raises(MalformedUpdate):
        to_update(data)


def test_private_text_message() -> None:
    result = parsed(update_of("teloxide_update_message_text_private.json"))
    [event] = result.events
    assert isinstance(event, Message)
    assert event.event_id == "306197398"
    assert event.text == "4"
    assert event.address.channel == "telegram"
    assert event.address.conversation == "111111111"
    assert event.address.user == "111111111"
    assert event.address.thread is None
    assert event.sender.platform == "telegram"
    assert event.sender.external_id == "111111111"
    assert event.sender.display_name == "Test User"
    assert event.direct


def test_docs_updates_without_is_bot_still_parse() -> None:
    # Telegram's own webhook guide still shows users without `is_bot`.
    result = parsed(update_of("docs_update_message_text_private.json"))
    [event] = result.events
    assert isinstance(event, Message)
    assert event.text == "hi"  # /start opens every private chat
    assert event.sender.external_id == "1111111"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("docs_update_edited_message.json", "edited_message"),
        ("docs_update_inline_query.json", "inline_query"),
        ("docs_update_chosen_inline_result.json", "unhandled update"),
        ("teloxide_update_my_chat_member_bot_blocked.json", "my_chat_member"),
    ],
)
def test_updates_we_do_not_handle_are_ignored(name: str, reason: str) -> None:
    result = parsed(update_of(name))
    assert result.events == ()
    assert result.ignored == reason


def test_media_without_text_is_ignored() -> None:
    message = load("telegram", "teloxide_message_photo.message.json")
    assert parsed({"update_id": 4, "message": message}).ignored == "no text"


@pytest.mark.parametrize(
    "name",
    [
        "docs_update_message_audio.json",
        "docs_update_message_voice.json",
        "docs_update_message_document.json",
        "docs_update_message_text_minimal.json",
        "docs_update_callback_query_inline_message.json",
    ],
)
def test_updates_missing_required_fields_are_malformed(name: str) -> None:
    # 2015-era examples: no `file_unique_id` on media, no chat `type`, no `chat_instance`.
    with pytest.raises(MalformedUpdate):
        to_update(update_of(name))


def test_photo_caption_is_the_text_and_the_photo_an_attachment() -> None:
    message = load("telegram", "teloxide_message_photo_with_caption_entities.message.json")
    result = parsed({"update_id": 5, "message": message})
    [event] = result.events
    assert isinstance(event, Message)
    assert event.text == "www.example.com"
    assert event.attachments == ("telegram:file:FAKE-file-id-7",)


def test_group_command_is_for_us_with_the_command_word_as_text() -> None:
    result = parsed(update_of("teloxide_update_message_supergroup_bot_command_reply.json"))
    [event] = result.events
    assert isinstance(event, Message)
    assert event.text == "report"
    assert event.address.conversation == "-1001000000001"
    assert event.address.user == "222222222"


def _group(text: str, entities: list[dict] | None = None) -> dict:
    data = copy.deepcopy(update_of("teloxide_update_message_supergroup_bot_command_reply.json"))
    data["message"]["text"] = text
    data["message"]["entities"] = entities or []
    del data["message"]["reply_to_message"]
    return data


def test_group_chatter_is_not_for_us() -> None:
    result = parsed(_group("anyone know why the printer is slow?"))
    assert result.events == ()
    assert result.ignored == "group message not for the bot"


def test_group_mention_is_for_us_without_the_mention() -> None:
    text = "@SwitchboardBot the printer on floor 2 is broken"
    result = parsed(_group(text, [{"type": "mention", "offset": 0, "length": 15}]))
    [event] = result.events
    assert isinstance(event, Message)
    assert event.text == "the printer on floor 2 is broken"


def test_group_command_for_another_bot_is_ignored() -> None:
    entities = [{"type": "bot_command", "offset": 0, "length": 17}]
    result = parsed(_group("/report@OtherBot x", entities))
    assert result.events == ()


def test_group_reply_to_the_bot_is_for_us() -> None:
    data = _group("yes, still broken")
    data["message"]["reply_to_message"] = {
        "message_id": 1,
        "date": 1721592028,
        "chat": data["message"]["chat"],
        "from": {"id": ME.id, "is_bot": True, "first_name": "Switchboard"},
        "text": "Is it still broken?",
    }
    [event] = parsed(data).events
    assert isinstance(event, Message)
    assert event.text == "yes, still broken"


def test_private_command_with_bot_suffix() -> None:
    data = update_of("teloxide_update_message_text_private.json")
    data["message"]["text"] = "/link@SwitchboardBot K7Q2-M9XD"
    [event] = parsed(data).events
    assert isinstance(event, Message)
    assert event.text == "link K7Q2-M9XD"


# -- callbacks -------------------------------------------------------------------------------


def test_callback_data_round_trips_and_fits() -> None:
    data = encode_callback("approve", "CHG-12", 1, 3)
    assert data == "approve|3|CHG-12"
    assert decode_callback(data) == ("approve", "CHG-12", "3")
    assert decode_callback(encode_callback("choose_intent", "report_incident", 1)) == (
        "choose_intent",
        "report_incident",
        "",
    )
    long_value = "x" * 80
    assert encode_callback("pick", long_value, 4) == "#4"
    assert decode_callback("#4") == 4
    for junk in ("", "Data from button callback", "some_data", "a|b", "BAD|1|x", "ok|x|y"):
        assert decode_callback(junk) is None


def _click(data: str) -> dict:
    cq = load("telegram", "teloxide_callback_query_inline.callback_query.json")
    cq.pop("inline_message_id")
    cq.pop("game_short_name")
    cq["data"] = data
    cq["message"] = {
        "message_id": 4242,
        "date": 1721592028,
        "chat": {"id": 12345, "type": "private", "first_name": "firstName"},
        "from": {"id": ME.id, "is_bot": True, "first_name": "Switchboard"},
        "text": "Approve or reject?",
    }
    return {"update_id": 99, "callback_query": cq}


def test_click_becomes_an_action_with_the_clicked_message() -> None:
    result = parsed(_click("approve|3|CHG-12"))
    [event] = result.events
    assert isinstance(event, Action)
    assert (event.name, event.value) == ("approve", "CHG-12")
    assert dict(event.params) == {"version": "3"}
    assert event.message_id == "4242"
    assert event.event_id == "99"
    assert event.address.conversation == "12345"
    assert event.sender.external_id == "12345"
    assert result.callback_query_id == "id"


def test_click_by_number_becomes_the_typed_number() -> None:
    [event] = parsed(_click("#2")).events
    assert isinstance(event, Message)
    assert event.text == "2"


def test_inline_or_foreign_clicks_are_answered_and_ignored() -> None:
    inline = {
        "update_id": 7,
        "callback_query": load("telegram", "teloxide_callback_query_inline.callback_query.json"),
    }
    result = parsed(inline)
    assert result.events == ()
    assert result.callback_query_id == "id"
    result = parsed(_click("Data from button callback"))
    assert result.events == ()
    assert result.callback_query_id == "id"


# -- render ----------------------------------------------------------------------------------

HOSTILE = [
    "<b>bold</b>",
    "<a href='https://evil.example'>click</a>",
    "<script>alert(1)</script>",
    "Tom & Jerry &amp; co",
    "a < b > c",
    "</code><pre>",
    "<tg-spoiler>x</tg-spoiler>",
    "*bold* _it_ [link](http://x) `code`",
    "\u202eevil\u202c",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_user_text_is_escaped_for_html(text: str) -> None:
    card = TicketCard(ref="INC-1", title=text, kind="incident", status="new")
    out = render(Reply(text=f"You said: {text}", card=card)).text
    assert "<" not in out.replace("<b>INC-1</b>", "")
    assert ">" not in out.replace("<b>INC-1</b>", "")
    assert escape(text) in out
    # What Telegram shows after parsing the entities is exactly what was written.
    import html

    assert text in html.unescape(out)


def test_render_card_and_keyboard() -> None:
    card = TicketCard(
        ref="CHG-12", title="Restart mail", kind="change", status="awaiting approval", version=3
    )
    reply = Reply(
        text="Approve or reject?",
        card=card,
        buttons=(
            Button(label="Approve", action="approve", value="CHG-12"),
            Button(label="Reject", action="reject", value="CHG-12"),
        ),
    )
    out = render(reply)
    assert out.text.startswith("Approve or reject?\n\n<b>CHG-12</b> · Restart mail")
    assert out.keyboard is not None
    rows = out.keyboard.inline_keyboard
    assert [[b.text for b in row] for row in rows] == [["Approve", "Reject"]]
    assert [b.callback_data for b in rows[0]] == ["approve|3|CHG-12", "reject|3|CHG-12"]
    assert all(len(d.encode()) <= 64 for d in out.callback_data)


def test_render_keeps_within_telegram_limit() -> None:
    out = render(Reply(text="<" * 10_000))
    assert len(out.text) <= 4096 * 4  # escaped entities count once each on Telegram
    assert out.text.count("&lt;") < 4096


# -- errors ----------------------------------------------------------------------------------


def test_flood_control_asks_for_the_advertised_wait() -> None:
    err = delivery_error(RetryAfter(timedelta(seconds=3)))
    assert err.retry_after == 3
    assert not err.permanent


@pytest.mark.parametrize(
    "error",
    [
        Forbidden("Forbidden: bot was blocked by the user"),
        BadRequest("Bad Request: chat not found"),
    ],
)
def test_blocked_or_unknown_chat_is_permanent(error: Exception) -> None:
    err = delivery_error(error)  # type: ignore[arg-type]
    assert err.permanent


def _caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


def test_timeouts_after_sending_are_ambiguous_but_not_for_edits() -> None:
    read = _caused(TimedOut(), httpx.ReadTimeout("read"))
    assert delivery_error(read).ambiguous  # type: ignore[arg-type]
    assert not delivery_error(read, idempotent=True).ambiguous  # type: ignore[arg-type]
    connect = _caused(TimedOut(), httpx.ConnectTimeout("connect"))
    assert not delivery_error(connect).ambiguous  # type: ignore[arg-type]
    assert not delivery_error(NetworkError("Bad Gateway (502)")).ambiguous


def test_payload_files_are_the_recorded_ones() -> None:
    # Guard: the fixtures above parse the corpus bytes, not a hand-written copy.
    assert json.loads(raw("telegram", "teloxide_update_message_text_private.json"))["update_id"]


def test_overview_sections_with_their_buttons() -> None:
    from channels.conversation import Section

    card = TicketCard(ref="CHG-9", title="<DB> upgrade", kind="change", status="new", version=4)
    reply = Reply(
        text="Hi Carol.",
        overview=True,
        sections=(
            Section(
                title="Waiting for your approval",
                cards=(card,),
                buttons=(
                    Button(label="Approve", action="approve", value="CHG-9"),
                    Button(label="Reject", action="reject", value="CHG-9"),
                ),
            ),
        ),
    )
    out = render(reply)
    assert "<b>Waiting for your approval</b>" in out.text
    assert "CHG-9 · &lt;DB&gt; upgrade" in out.text
    assert out.keyboard is not None
    labels = [b.text for row in out.keyboard.inline_keyboard for b in row]
    assert labels == ["Approve CHG-9", "Reject CHG-9"]
    assert out.callback_data == ("approve|4|CHG-9", "reject|4|CHG-9")


@pytest.mark.parametrize("seed", range(25))
def test_generated_hostile_text_never_becomes_markup(seed: int) -> None:
    import html
    import random

    pieces = [
        "<",
        ">",
        "&",
        "<b>",
        "</b>",
        "<i>",
        "<a href='tg://user?id=1'>",
        "</a>",
        "<code>",
        "<pre>",
        "<tg-spoiler>",
        "<tg-emoji emoji-id='1'>",
        "&lt;",
        "&amp;",
        "&#60;",
        "<!--",
        "*",
        "_",
        "[",
        "]",
        "(",
        ")",
        "~",
        "`",
        ">",
        "#",
        "+",
        "-",
        "=",
        "|",
        "{",
        "}",
        ".",
        "!",
        "\u202e",
        "\u200b",
        "@admin",
        "'; DROP TABLE tickets; --",
        '"',
        "\\",
        "\n",
    ]
    rng = random.Random(seed)
    for _ in range(10):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        card = TicketCard(ref="INC-1", title=text, kind="incident", status="new")
        out = render(Reply(text=text, card=card)).text
        stripped = out.replace("<b>INC-1</b>", "")
        assert "<" not in stripped
        assert ">" not in stripped
        assert html.unescape(stripped).count(text) >= 1 or not text.strip()
