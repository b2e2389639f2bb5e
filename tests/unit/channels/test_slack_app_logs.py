"""What the bolt app logs as it is built: nothing that sends a person after a working token."""

from __future__ import annotations

import logging

import pytest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.listeners import Listeners, build_app

TOKEN = "xoxb-1111-2222-logcheck"


async def _authorize() -> AuthorizeResult:
    return AuthorizeResult(
        enterprise_id=None, team_id="T111", bot_user_id="U0BOT", bot_id="B0BOT", bot_token=TOKEN
    )


def test_the_token_the_client_carries_is_not_reported_unused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # bolt reads the token from the environment however it is built.
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG, logger="slack_bolt")
    client = AsyncWebClient(token=TOKEN, base_url="http://127.0.0.1:9/api/")
    for _ in range(2):  # built twice (web route and Socket Mode): one filter, not two
        build_app(client, Listeners(client), _authorize)
    said = [r.getMessage() for r in caplog.records if r.name == "slack_bolt"]
    assert not [m for m in said if "will be unused" in m], said
    kinds = [type(f).__name__ for f in logging.getLogger("slack_bolt").filters]
    assert kinds.count("_ClientCarriesTheToken") == 1

    # Every other warning of bolt's still gets through.
    logging.getLogger("slack_bolt").warning("listener took too long")
    assert caplog.records[-1].getMessage() == "listener took too long"
