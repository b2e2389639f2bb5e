"""Building the X channel from `X_*` settings: on only when configured, clear when half-done."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import XSettings
from bot.factories import x as x_factory
from bot.platforms import ChannelDeps
from channels.base import ConfigurationError
from channels.x.channel import XChannel
from tests.fakes.x_api import MemoryCursors


def deps() -> ChannelDeps:
    async def history(key: str, after: int) -> list[object]:
        return []

    return ChannelDeps(secret=lambda: b"0" * 32, history=history, cursors=MemoryCursors())  # type: ignore[arg-type]


class _Settings:
    def __init__(self, x: XSettings) -> None:
        self.x = x


def build(**values: object) -> object:
    x = XSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]
    return x_factory.build(_Settings(x), deps())  # type: ignore[arg-type]


def test_off_without_credentials() -> None:
    assert build() is None


def test_the_consumer_secret_alone_serves_the_crc_check_and_names_what_is_missing() -> None:
    channel = build(consumer_secret="only-the-webhook-secret")
    assert isinstance(channel, XChannel)
    assert channel.missing == ("X_CONSUMER_KEY", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
    assert not channel.polls


def test_oauth1_keys_build_a_channel_without_opening_anything() -> None:
    channel = build(
        consumer_key="ck", consumer_secret="cs", access_token="1-at", access_token_secret="ats"
    )
    assert isinstance(channel, XChannel)
    assert channel._session is None  # clients open in start(), inside the running loop


def test_an_oauth2_user_token_with_the_webhook_secret_is_enough() -> None:
    assert isinstance(build(bearer_token="user-token", consumer_secret="cs"), XChannel)


@pytest.mark.parametrize(
    "values",
    [
        {"consumer_key": "ck", "access_token": "1-at"},
        {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "1-at"},
        {"bearer_token": "user-token", "access_token": "1-at"},
    ],
)
def test_half_configured_oauth1_is_refused_with_a_clear_message(values: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="X_ACCESS_TOKEN_SECRET"):
        build(**values)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", "user-token")
    monkeypatch.setenv("X_API_URL", "http://127.0.0.1:9004/")
    monkeypatch.setenv("X_POLL_INTERVAL", "15")
    monkeypatch.setenv("X_DM_POLL_INTERVAL", "0")
    x = XSettings(_env_file=None)  # type: ignore[call-arg]
    assert x.enabled
    assert x.api_url == "http://127.0.0.1:9004"
    assert (x.poll_interval, x.dm_poll_interval) == (15.0, 0.0)
    assert "user-token" not in repr(x)


@pytest.mark.parametrize(
    "url", ["api.twitter.com", "ftp://api.twitter.com", "https://proxy.example/x/", "https://"]
)
def test_an_api_url_that_cannot_replace_the_origin_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="X_API_URL"):
        XSettings(_env_file=None, api_url=url)  # type: ignore[call-arg]
