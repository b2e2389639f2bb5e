"""Replies in the person's language: English and Simplified Chinese message catalogs.

A dict per language (`catalog.py`) rather than gettext files: two languages, no compile step,
and a test that every key has both. The language is the person's directory preference when
set, else the language of the message they wrote. A key missing in a language falls back to
English, so an untranslated reply is still a reply.

A group's channel has no person behind it: it reads in the group's own `language` from the
desk file, else in the service desk's (the group marked `default`), else English. The
approvals and major-incident channels belong to no group and read in the service desk's.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from handlers.context import HandlerContext
from handlers.replies.catalog import MESSAGES, STATUS
from nlu.language import detect_language
from nlu.types import Understanding
from store.enums import Status
from store.models import Group, Person, Ticket
from store.uow import UnitOfWork

LANGUAGES = ("en", "zh")


def normalise(code: str | None) -> str | None:
    """`zh-CN`, `zh_Hans` and `ZH` are all `zh`; an unsupported language is None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


_REFS = re.compile(r"\b(?:inc|req|prb|chg)-\d+\b", re.IGNORECASE)


def written_language(text: str) -> str | None:
    """The language `text` is written in; None when it has no words to tell by.

    A click, a bare "2" or a ticket reference have none.
    """
    bare = _REFS.sub(" ", text)
    if not any(ch.isalpha() for ch in bare):
        return None
    return normalise(detect_language(bare))


def language(ctx: HandlerContext, nlu: Understanding | None = None) -> str:
    """The language to answer in, by the person's preference first.

    Else the message's, else the one they wrote in earlier in this dialogue, else English.
    """
    preferred = normalise(ctx.person.language)
    if preferred:
        return preferred
    text = nlu.text if nlu is not None else ctx.text
    if written_language(text) is not None:
        written = nlu.language if nlu is not None else detect_language(text)
        return normalise(written) or LANGUAGES[0]
    return normalise(ctx.written_in) or LANGUAGES[0]


def say(lang: str, key: str, /, **values: object) -> str:
    """The message `key` in `lang`, filled with `values`."""
    text = MESSAGES.get(lang, {}).get(key) or MESSAGES["en"][key]
    return text.format(**values) if values else text


def status_label(status: Status, lang: str) -> str:
    """A ticket state as the person reads it ("in progress", "处理中")."""
    if lang == "en":
        return status.label
    return STATUS.get(lang, {}).get(status.value, status.label)


def language_of(person: Person | None, ticket: Ticket | None = None) -> str:
    """The language to tell someone else in: their preference, else English.

    For the requester of `ticket`, the language they described it in comes before English.
    """
    if person is None:
        return LANGUAGES[0]
    preferred = normalise(person.language)
    if preferred:
        return preferred
    if ticket is not None and ticket.requester_id == person.id:
        return normalise(detect_language(ticket.description or ticket.title)) or LANGUAGES[0]
    return LANGUAGES[0]


def language_named(code: str | None) -> str:
    """`language_of` for someone known only by their `language` column: it, else English."""
    return normalise(code) or LANGUAGES[0]


def group_language_key(group_id: int) -> str:
    """Where the desk import keeps a group's `language` (a small stored value, not a column)."""
    return f"group.language.{group_id}"


async def channel_language(uow: UnitOfWork, group: Group | None = None) -> str:
    """The language of a shared channel: `group`'s, else the service desk's, else English."""
    if group is not None:
        own = normalise(await uow.cursors.get(group_language_key(group.id)))
        if own:
            return own
    desk = await uow.desk.default_group()
    if desk is not None and (group is None or desk.id != group.id):
        return normalise(await uow.cursors.get(group_language_key(desk.id))) or LANGUAGES[0]
    return LANGUAGES[0]


_WEEKDAYS_ZH = "一二三四五六日"


def date_text(at: datetime | date, lang: str, pattern: str = "%a %d %b %H:%M") -> str:
    """A date for a sentence: `pattern` as written in English ("Fri 04 Dec 14:30").

    In Chinese the same parts come in Chinese order ("12月4日（周五） 14:30").
    """
    if lang != "zh":
        return at.strftime(pattern)
    text = f"{at.year}年" if "%Y" in pattern else ""
    if "%d" in pattern or "%b" in pattern:
        text += f"{at.month}月{at.day}日"
    if "%a" in pattern:
        day = f"周{_WEEKDAYS_ZH[at.weekday()]}"
        text += f"（{day}）" if text else day
    if "%H" in pattern and isinstance(at, datetime):
        text += f" {at:%H:%M}"
    if pattern.endswith(" UTC"):
        text += " UTC"
    return text.strip()
