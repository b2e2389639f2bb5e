"""Settings from the environment: database URLs, channel switches, placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import Settings
from store.db import normalise_database_url


@pytest.mark.parametrize(
    ("url", "expected", "args"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db", {}),
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db", {"ssl": "require"}),
        ("postgresql://u@h/db?sslmode=disable&x=1", "postgresql+asyncpg://u@h/db?x=1", {}),
        ("sqlite:///var/switchboard.db", "sqlite+aiosqlite:///var/switchboard.db", {}),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db", {}),
    ],
)
def test_database_url_normalisation(url: str, expected: str, args: dict[str, object]) -> None:
    assert normalise_database_url(url) == (expected, args)


def test_embedded_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not s.scaled
    assert s.is_sqlite
    assert not s.slack.enabled
    assert not s.telegram.enabled
    assert not s.twilio.enabled
    assert not s.x.enabled


def test_channels_switch_on_with_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "abc")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9001/api")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.slack.enabled
    assert s.slack.api_url == "http://127.0.0.1:9001/api/"
    assert s.scaled
    assert not s.is_sqlite
    assert "abc" not in repr(s)


def test_placeholder_secrets_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "changeme")
    with pytest.raises(ValidationError, match="SLACK_SIGNING_SECRET is a placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]
