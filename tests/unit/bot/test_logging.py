"""Nothing secret or personal leaves the process in a log line."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from bot.logging import configure, mask_phone, scrub


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("token xoxb-1234567890-abcdefghijkl", "xoxb-1234567890-abcdefghijkl"),
        (
            "GET /bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        ),
        (
            "Authorization: Bearer sb_abcdefghijklmnopqrstuvwxyz012345",
            "sb_abcdefghijklmnopqrstuvwxyz012345",
        ),
        ("from +14155550101 said hi", "4155550101"),
        ("call 0044 20 7946 0958 now", "20 7946 0958"),
        ("https://example.com/cb?signature=abc123&x=1", "abc123"),
        (
            '"GET /signin/hJinFzZSty5qJoeiP8RKykxHeOoVUS-jWKtZyjlKfXk HTTP/1.1" 303',
            "hJinFzZSty5qJoeiP8RKykxHeOoVUS-jWKtZyjlKfXk",
        ),
        ("GET /signin/oidc/callback?code=Splx10BeZQQYbYS6WxSbIA&state=xyz HTTP/1.1", "Splx10"),
    ],
)
def test_scrub_removes_secrets_and_numbers(raw: str, leak: str) -> None:
    assert leak not in scrub(raw)


def test_ordinary_codes_stay() -> None:
    assert scrub("status_code=200 path=/signin/oidc") == "status_code=200 path=/signin/oidc"


def test_phone_keeps_last_four_digits() -> None:
    assert mask_phone("+14155550101") == "+*******0101"
    assert scrub("INC-1042 opened at 2026-11-26") == "INC-1042 opened at 2026-11-26"


def test_structlog_and_stdlib_lines_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure("DEBUG", "json")
    log = structlog.get_logger("test")
    log.info(
        "slack.event",
        signing_secret="s3cr3t-value",
        bot_token="xoxb-99999999-zzzzzzzzzz",
        phone="+14155550101",
        note="reach me on +442079460958",
    )
    logging.getLogger("httpx").warning(
        "POST https://api.telegram.org/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678/sendMessage"
    )
    logging.getLogger("telegram.ext").error(
        "Invalid token 123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678"
    )
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == 3
    text = err
    for secret in (
        "s3cr3t-value",
        "xoxb-99999999-zzzzzzzzzz",
        "4155550101",
        "2079460958",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678",
    ):
        assert secret not in text
    assert lines[0]["signing_secret"] == "[redacted]"
    assert lines[0]["phone"].endswith("0101")
    structlog.reset_defaults()


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("text: 'Your link code is MD8G-WAHN\\nFrom the account'", "MD8G-WAHN"),
        ("Your Switchboard code is 482913. Someone asked", "482913"),
        ("message text='/link MD8GWAHN'", "MD8GWAHN"),
        ("text: 'Your link code is MD8G-WAHN23\\nFrom the account'", "WAHN23"),
        ("message text='/link MD8GWAHN23'", "WAHN23"),
        ("message text='link 482913'", "482913"),
        ("Link: 482913", "482913"),
    ],
)
def test_scrub_removes_link_codes(raw: str, leak: str) -> None:
    assert leak not in scrub(raw)


def test_ordinary_words_after_link_stay() -> None:
    assert scrub("link accounts from Telegram") == "link accounts from Telegram"


def test_sdk_request_bodies_are_not_logged_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure("DEBUG", "json")
    logging.getLogger("slack_sdk.web.async_base_client").debug("Sending a request - json: {}")
    logging.getLogger("telegram._bot").debug("Calling Bot API endpoint `sendMessage`")
    logging.getLogger("bot.worker").debug("worker.claimed")
    err = capsys.readouterr().err
    assert "Sending a request" not in err
    assert "Calling Bot API" not in err
    assert "worker.claimed" in err
    structlog.reset_defaults()
