"""The filter on SDK loggers: records are cleaned where they are made, whoever handles them."""

from __future__ import annotations

import logging

import pytest

from channels.sdk_logs import REDACTED, protect

TOKEN = "987654321:AAEsdkLogsTestTokenValue_abcdefghijkl"


def test_messages_arguments_and_tracebacks_are_cleaned(caplog: pytest.LogCaptureFixture) -> None:
    name = "tests.sdk_logs.one"
    protect([name], TOKEN)
    logger = logging.getLogger(name)
    caplog.set_level(logging.DEBUG, logger=name)
    logger.debug("GET https://api.telegram.org/bot%s/getMe", TOKEN)
    logger.info("text to +44 20 7946 0958 sent")
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected")
    except RuntimeError:
        logger.exception("failed")
    url, text, failed = caplog.records
    assert url.getMessage() == f"GET https://api.telegram.org/bot{REDACTED}/getMe"
    assert text.getMessage() == "text to +44******0958 sent"
    assert failed.exc_text is not None
    assert "was rejected" in failed.exc_text
    assert TOKEN not in caplog.text
    assert "7946 0958" not in caplog.text


def test_the_filter_is_added_once_and_other_loggers_are_untouched() -> None:
    name = "tests.sdk_logs.two"
    protect([name], TOKEN)
    protect([name], TOKEN)
    assert len(logging.getLogger(name).filters) == 1
    assert logging.getLogger("tests.sdk_logs.elsewhere").filters == []
