"""The reason for a hold is what is left once the command words and the reference are gone."""

from __future__ import annotations

import pytest

from handlers.holds import reason_of


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "put INC-4 on hold until Monday, waiting for the vendor",
            "until Monday, waiting for the vendor",
        ),
        ("hold INC-88, waiting for the customer to reply", "waiting for the customer to reply"),
        ("INC-7 on hold: waiting for parts", "waiting for parts"),
        ("put INC-12 on hold", None),
        ("pause INC-3", None),
        ("把INC-4挂起，等供应商回复", "等供应商回复"),
        ("INC-7挂起到周一", "到周一"),
        ("挂起INC-88", None),
    ],
)
def test_reason_of(text: str, reason: str | None) -> None:
    assert reason_of(text) == reason
