"""The web pages' two languages: which one a request gets, and no key missing in either."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.web.i18n import MESSAGES, negotiate, translator

TEMPLATES = Path(__file__).parents[3] / "bot" / "web" / "templates"
USED = re.compile(r"""\bt\(\s*['"]([a-z_.]+)['"]""")


@pytest.mark.parametrize(
    ("preferred", "header", "expected"),
    [
        ("zh", "en-US,en;q=0.9", "zh"),  # the directory's choice wins
        ("en", "zh-CN", "en"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "fr-FR, en;q=0.5, zh;q=0.4", "en"),
        (None, "fr-FR, zh;q=0.6, en;q=0.5", "zh"),
        (None, "zh;q=0, en;q=0.1", "en"),
        (None, "de", "en"),
        (None, None, "en"),
        ("xx", "garbage;;;q=abc", "en"),
    ],
)
def test_negotiate(preferred: str | None, header: str | None, expected: str) -> None:
    assert negotiate(preferred, header) == expected


def test_both_catalogs_have_every_key_the_pages_use() -> None:
    found = {k for f in TEMPLATES.rglob("*.html") for k in USED.findall(f.read_text("utf-8"))}
    assert found, "no keys found: the pattern no longer matches the templates"
    # `t('sla.' ~ state)`: a prefix completed at render time; some key must carry it.
    prefixes = {k for k in found if k.endswith(".")}
    used = found - prefixes
    for language, table in MESSAGES.items():
        missing = sorted(used - table.keys())
        assert not missing, f"{language} lacks {missing}"
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in table), f"{language} has no {prefix}*"
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()


def test_translator_fills_values_and_falls_back() -> None:
    assert translator("zh")("signed_in_as", name="Alice") == "已登录：Alice"
    assert translator("en")("no.such.key") == "no.such.key"
