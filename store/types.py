"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases.

    SQLite hands back naive datetimes even for `DateTime(timezone=True)`; this stores UTC and
    always returns an aware value.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        """`datetime`, which `TypeDecorator` does not take from its `impl` by itself."""
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Write the instant in UTC; naive on SQLite, whose columns keep no time zone.

        Raises:
            ValueError: the datetime is naive, so its zone is unknown.
        """
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """An aware UTC datetime, whatever the database handed back (SQLite: naive or text)."""
        return _aware_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, one function from an aware datetime to the text SQLite stores.

        The general path runs `process_bind_param` and then SQLite's own `DATETIME`
        formatting, two calls and a `%` of seven fields per value; a ticket row has a dozen
        such columns. The text is the same: `YYYY-MM-DD HH:MM:SS.ffffff`, in UTC.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        """On SQLite, the stored text straight to an aware datetime (one parse, one replace)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _aware_utc


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"a UTC column was given {type(value).__name__}, not a datetime")
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # The stored text is the naive form; dropping "+00:00" costs less than `replace`.
    return value.isoformat(" ", "microseconds")[:-6]


def _aware_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 26 and value[19] == ".":
        # The text `_sqlite_text` stores, read back with its zone: `fromisoformat` gives
        # the UTC singleton itself, for less than a naive parse and a `replace`.
        return datetime.fromisoformat(value + "+00:00")
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(stamp, datetime):
        raise TypeError(f"a UTC column held {type(value).__name__}, not a datetime")
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
