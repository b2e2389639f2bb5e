"""Meta settings from the environment and the channel built from them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import MetaSettings, Settings
from bot.factories.meta import build
from bot.platforms import ChannelDeps
from channels.base import MemoryCursors
from channels.meta.channel import MetaChannel


def deps() -> ChannelDeps:
    return ChannelDeps(secret=lambda: b"s" * 32, history=None, cursors=MemoryCursors())  # type: ignore[arg-type]


def test_the_environment_configures_meta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("META_APP_SECRET", "app-secret-value")
    monkeypatch.setenv("META_VERIFY_TOKEN", "verify-me")
    monkeypatch.setenv("META_PAGE_TOKEN", "EAApagetoken")
    monkeypatch.setenv("META_API_URL", "http://127.0.0.1:9005/v21.0/")
    monkeypatch.setenv("META_HUMAN_AGENT_TAG", "true")
    meta = Settings(_env_file=None).meta  # type: ignore[call-arg]
    assert meta.enabled
    assert meta.api_url == "http://127.0.0.1:9005/v21.0"
    assert meta.human_agent_tag
    assert "app-secret-value" not in repr(meta)


def test_defaults_are_the_graph_api_and_no_tag() -> None:
    meta = MetaSettings(_env_file=None)  # type: ignore[call-arg]
    assert meta.api_url == "https://graph.facebook.com/v21.0"
    assert not meta.human_agent_tag
    assert not meta.enabled


@pytest.mark.parametrize("url", ["graph.facebook.com", "ftp://x/v21.0", "https://x/v21.0?a=1"])
def test_a_bad_api_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="META_API_URL"):
        MetaSettings(_env_file=None, api_url=url)  # type: ignore[call-arg]


def test_placeholder_secrets_are_refused_in_production() -> None:
    meta = MetaSettings(_env_file=None, app_secret="changeme")  # type: ignore[call-arg, arg-type]
    with pytest.raises(ValidationError, match="META_APP_SECRET"):
        Settings(_env_file=None, environment="production", meta=meta)  # type: ignore[call-arg]


def test_the_channel_is_built_even_unconfigured_so_the_webhook_answers() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    channel = build(settings, deps())
    assert isinstance(channel, MetaChannel)
    assert channel.platforms == ("messenger", "instagram")
    paths = {(r.path, tuple(sorted(r.methods or ()))) for r in channel.routes(None)}  # type: ignore[arg-type, attr-defined]
    assert ("/meta/webhook", ("GET", "HEAD")) in paths
    assert ("/meta/webhook", ("POST",)) in paths
