"""Replies in the person's language: English and Simplified Chinese message catalogs.

A dict per language (`catalog.py`) rather than gettext files: two languages, no compile step,
and a test that every key has both. The language is the person's directory preference when
set, else the language of the message they wrote. A key missing in a language falls back to
English, so an untranslated reply is still a reply.
"""

from __future__ import annotations

from handlers.context import HandlerContext
from handlers.replies.catalog import MESSAGES, STATUS
from nlu.language import detect_language
from nlu.types import Understanding
from store.enums import Status
from store.models import Person, Ticket

LANGUAGES = ("en", "zh")


def normalise(code: str | None) -> str | None:
    """`zh-CN`, `zh_Hans` and `ZH` are all `zh`; an unsupported language is None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def language(ctx: HandlerContext, nlu: Understanding | None = None) -> str:
    """The language to answer in: the person's preference, else the message's, else English."""
    written = nlu.language if nlu else (detect_language(ctx.text) if ctx.text else None)
    return normalise(ctx.person.language) or normalise(written) or LANGUAGES[0]


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
    """The language to tell someone else in: their preference; for the requester of `ticket`,
    else the language they described it in; else English."""
    if person is None:
        return LANGUAGES[0]
    preferred = normalise(person.language)
    if preferred:
        return preferred
    if ticket is not None and ticket.requester_id == person.id:
        return normalise(detect_language(ticket.description or ticket.title)) or LANGUAGES[0]
    return LANGUAGES[0]
