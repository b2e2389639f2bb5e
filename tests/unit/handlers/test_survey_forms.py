"""Which messages starting with "rate" answer a survey, and the rating they give."""

from __future__ import annotations

import pytest

from handlers.registry import load
from handlers.survey import is_rating, rating_of


@pytest.mark.parametrize(
    "text",
    [
        "rate 4",
        "Rate 5 quick and friendly",
        "rate INC-7 4 good",
        "rate INC-7 nine",
        "rate 4/5",
        "rate ★★★★",
        "rate ⭐⭐⭐",
        "rate *****",
        "rate 👍",
        "rate 4\ufe0f\u20e3 thanks",
        "rate thumbs down",
    ],
)
def test_rating_forms_are_survey_answers(text: str) -> None:
    assert is_rating(text)
    assert load().for_command(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "rate limits on the API are too low",
        "rate the new laptop please",
        "rate 2fa codes expire too fast",
        "rating is broken",
    ],
)
def test_sentences_that_start_with_rate_go_to_the_nlu(text: str) -> None:
    assert not is_rating(text)
    spec = load().for_command(text)
    assert spec is None or "rate" not in spec.commands


@pytest.mark.parametrize(
    ("said", "rating", "comment"),
    [
        ("4", 4, ""),
        ("4/5 ok", 4, "ok"),
        ("4 stars great", 4, "great"),
        ("★★★★☆ nice", 4, "nice"),
        ("⭐⭐⭐⭐⭐", 5, ""),
        ("**", 2, ""),
        ("3\ufe0f\u20e3 fine", 3, "fine"),
        ("👎 slow", 1, "slow"),
        ("9", None, "9"),
        ("☆☆", None, "☆☆"),
        ("nine", None, "nine"),
    ],
)
def test_rating_of_reads_numbers_stars_and_emoji(
    said: str, rating: int | None, comment: str
) -> None:
    assert rating_of(said) == (rating, comment)


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("4", True),
        ("9.", True),
        ("4/5 quick", True),
        ("5 stars, thanks", True),
        ("★★★★☆", True),
        ("👍 great", True),
        ("4 users cannot log in", False),
        ("the printer on floor 4 is jammed", False),
        ("2fa broken", False),
    ],
)
def test_bare_ratings(text: str, bare: bool) -> None:
    from handlers.survey import is_bare_rating

    assert is_bare_rating(text) is bare
