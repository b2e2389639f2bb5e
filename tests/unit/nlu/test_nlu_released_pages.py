"""The model parses the same once the process has given back its library pages."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest

from bot.resident import release_file_pages
from nlu.pipeline import SpacyUnderstander

TEXTS = [
    "my laptop won't turn on, it's urgent",
    "what's the status of INC-1234?",
    "please reset my password tomorrow at 9am",
    "我的邮箱打不开了",
    "thanks!",
    "asdf qwerty",
]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's smaps")
def test_parses_alike_after_the_release(understander: SpacyUnderstander, now: datetime) -> None:
    before = understander.parse_many(TEXTS, now=now)

    assert release_file_pages() > 0

    assert understander.parse_many(TEXTS, now=now) == before
    assert [understander.parse(t, now=now) for t in TEXTS] == before
