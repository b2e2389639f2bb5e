"""Reply catalogs: every reply in English and Chinese, and the language each person gets."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from channels.conversation import Address
from handlers.context import HandlerContext
from handlers.replies import LANGUAGES, language, normalise, say, status_label
from handlers.replies.catalog import MESSAGES, STATUS
from nlu.types import IntentName, Understanding
from store.enums import Status
from store.models import Person


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_reply_has_every_language_with_the_same_fields(lang: str) -> None:
    assert set(MESSAGES[lang]) == set(MESSAGES["en"])
    for key, text in MESSAGES["en"].items():
        assert MESSAGES[lang][key].strip(), key
        assert _fields(MESSAGES[lang][key]) == _fields(text), key


def test_chinese_replies_are_chinese() -> None:
    for key, text in MESSAGES["zh"].items():
        words = "".join(literal for literal, _, _, _ in string.Formatter().parse(text))
        # A piece that is only a field with punctuation ("{name} ") has no words to translate.
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in words)
        assert chinese or not any(ch.isascii() and ch.isalpha() for ch in words), key


def test_every_ticket_state_reads_in_chinese() -> None:
    assert set(STATUS["zh"]) == {s.value for s in Status}
    assert status_label(Status.IN_PROGRESS, "en") == "in progress"
    assert status_label(Status.IN_PROGRESS, "zh") == "处理中"


def test_say_fills_the_fields_and_falls_back_to_english() -> None:
    assert say("zh", "reopen.done", ref="INC-7") == "我已重新打开 INC-7，团队会继续处理。"
    assert say("fr", "reopen.done", ref="INC-7") == "I've reopened INC-7; it's back with the team."


def _ctx(preference: str | None) -> HandlerContext:
    person = Person(name="P", email="p@example.com", language=preference)
    address = Address(channel="console", conversation="p", user="p")
    return HandlerContext(uow=None, person=person, address=address, now=datetime.now(UTC))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("preference", "written", "answered"),
    [
        (None, "en", "en"),
        (None, "zh", "zh"),
        ("zh-CN", "en", "zh"),
        ("en", "zh", "en"),
        ("fr", "zh", "zh"),
        (None, "de", "en"),
    ],
)
def test_the_preference_wins_then_the_message(
    preference: str | None, written: str, answered: str
) -> None:
    nlu = Understanding(text="x", intent=IntentName.GREET, confidence=1.0, language=written)
    assert language(_ctx(preference), nlu) == answered


def test_language_codes_are_normalised() -> None:
    assert normalise("zh_Hans") == "zh"
    assert normalise("ZH") == "zh"
    assert normalise("fr") is None
    assert normalise("") is None
