"""Errors of the ITSM processes.

A refusal that a person may read carries its words as a catalog key and fields (`Said`), so
chat says it in the person's language while `str(error)` stays the English sentence the REST
API returns as its detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.replies import date_text
from handlers.replies.catalog import MESSAGES, STATUS
from store.enums import Status


@dataclass(frozen=True, slots=True)
class Term:
    """A word the reply catalogs hold (a stage, a step), said in the reader's language."""

    key: str


@dataclass(frozen=True, slots=True)
class Local:
    """A text the desk file gives per language (a form field's label), in the reader's.

    English stands in when the reader's language has none.
    """

    en: str
    zh: str | None = None


@dataclass(frozen=True, slots=True)
class When:
    """A moment written as `pattern` says in English, in the reader's language's order."""

    at: datetime
    pattern: str = "%a %d %b %H:%M"


@dataclass(frozen=True, slots=True)
class Terms:
    """Words joined by the reader's list separator; the word `empty` when there are none."""

    items: tuple[object, ...]
    empty: Term


def _word(value: object, lang: str) -> str:
    if isinstance(value, Status):
        return value.label if lang == "en" else STATUS.get(lang, {}).get(value.value, value.label)
    if isinstance(value, Term):
        return MESSAGES.get(lang, {}).get(value.key) or MESSAGES["en"][value.key]
    if isinstance(value, Said):
        return value.text(lang)
    if isinstance(value, Local):
        return value.zh if lang == "zh" and value.zh else value.en
    if isinstance(value, When):
        return date_text(value.at, lang, value.pattern)
    if isinstance(value, Terms):
        if not value.items:
            return _word(value.empty, lang)
        sep = MESSAGES.get(lang, {}).get("change.list_sep") or ", "
        return sep.join(_word(v, lang) for v in value.items)
    return str(value)


class Said:
    """A sentence of the reply catalogs: `key`, filled with `fields` in the reader's language."""

    __slots__ = ("fields", "key")

    def __init__(self, key: str, /, **fields: object) -> None:
        self.key = key
        self.fields = fields

    def text(self, lang: str) -> str:
        """The sentence in `lang`, falling back to English where the catalog has no translation."""
        template = MESSAGES.get(lang, {}).get(self.key) or MESSAGES["en"][self.key]
        return template.format(**{k: _word(v, lang) for k, v in self.fields.items()})


class ExplainedError(Exception):
    """An error given as a catalog sentence (or, where none exists yet, as English text)."""

    def __init__(self, message: Said | str | None = None) -> None:
        self.said = message if isinstance(message, Said) else None
        if message is None:
            super().__init__()
        else:
            super().__init__(message.text("en") if isinstance(message, Said) else message)


def explain(error: Exception, lang: str) -> str:
    """What went wrong, in `lang` when the catalogs hold the sentence, else as it was raised."""
    if isinstance(error, ExplainedError) and error.said is not None:
        return error.said.text(lang)
    return str(error)


class HandlerError(ExplainedError):
    """Root of every handler error."""


class LifecycleError(HandlerError):
    """A ticket cannot move from its state to the one asked for."""
