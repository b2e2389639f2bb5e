"""`switchboard telegram set-webhook` / `info` / `delete-webhook` against the fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli_telegram import app
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

runner = CliRunner()
SECRET = "webhook-secret_0123456789"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_URL", api.api_url)
        monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
        monkeypatch.setenv("PUBLIC_URL", "https://switchboard.example.com/")
        monkeypatch.chdir(tmp_path)  # settings read ./.env: there is none here
        yield api


def test_set_webhook_registers_url_secret_and_update_types(fake: FakeTelegramApi) -> None:
    result = runner.invoke(app, ["set-webhook"])
    assert result.exit_code == 0, result.output
    [call] = fake.sent("setWebhook")
    assert call["url"] == "https://switchboard.example.com/telegram/webhook"
    assert call["secret_token"] == SECRET
    assert call["allowed_updates"] == '["message", "callback_query"]'
    assert "Webhook set" in result.output
    assert TOKEN not in result.output

    info = runner.invoke(app, ["info", "--json"])
    assert info.exit_code == 0, info.output
    assert '"url": "https://switchboard.example.com/telegram/webhook"' in info.output


def test_set_webhook_without_public_url_says_what_to_set(
    fake: FakeTelegramApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUBLIC_URL")
    result = runner.invoke(app, ["set-webhook"])
    assert result.exit_code == 2
    assert "PUBLIC_URL" in result.output
    assert fake.sent("setWebhook") == []


def test_set_webhook_without_secret_says_what_to_set(
    fake: FakeTelegramApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_SECRET_TOKEN")
    result = runner.invoke(app, ["set-webhook"])
    assert result.exit_code == 2
    assert "TELEGRAM_SECRET_TOKEN" in result.output
    assert fake.sent("setWebhook") == []


def test_a_rejected_token_is_reported_without_the_token(
    fake: FakeTelegramApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = TOKEN[:-3] + "xyz"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", wrong)
    result = runner.invoke(app, ["set-webhook"])
    assert result.exit_code == 1
    assert "rejected" in result.output
    assert wrong not in result.output


def test_delete_webhook(fake: FakeTelegramApi) -> None:
    result = runner.invoke(app, ["delete-webhook"])
    assert result.exit_code == 0, result.output
    assert len(fake.sent("deleteWebhook")) == 1
