"""Phone numbers: parsing and validation to E.164 with libphonenumber, and masking for logs."""

from __future__ import annotations

import pytest

from channels.conversation import mask_phone, phone_candidate
from channels.phones import InvalidPhoneNumber, is_valid, mask, mask_in_text, normalise, to_e164


@pytest.mark.parametrize(
    ("written", "region", "expected"),
    [
        # United Kingdom: London landline and a mobile, international and national.
        ("+44 20 7946 0958", None, "+442079460958"),
        ("0044 (20) 7946-0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 7911 123456", None, "+447911123456"),
        # Germany: Berlin landline and a mobile.
        ("+49 30 1234567", None, "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("+49 151 23456789", None, "+4915123456789"),
        # India: a mobile, with and without the trunk prefix.
        ("+91 98765 43210", None, "+919876543210"),
        ("098765 43210", "IN", "+919876543210"),
        # China: a mobile and a Beijing landline.
        ("+86 138 0013 8000", None, "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 10 6552 9988", None, "+861065529988"),
        # United States.
        ("+1 (415) 555-0123", None, "+14155550123"),
        ("415.555.0123", "US", "+14155550123"),
        ("001 415 555 0123", None, "+14155550123"),
        # Full-width digits, as a Chinese keyboard types them.
        ("＋８６ １３８ ００１３ ８０００", None, "+8613800138000"),
    ],
)
def test_numbers_from_five_countries_normalise_to_e164(
    written: str, region: str | None, expected: str
) -> None:
    assert normalise(written, region=region) == expected
    assert to_e164(written, region=region) == expected
    assert is_valid(written, region=region)


@pytest.mark.parametrize(
    ("written", "region"),
    [
        ("", None),
        ("   ", None),
        ("hello", None),
        ("4155550123", None),  # national spelling without a region to read it in
        ("+1 415 555", None),  # too short for North America
        ("+44 20 7946 0958 0958 0958", None),  # too long for the UK
        ("+49 0000 000", None),
        ("+91 98765 4321", None),  # one digit short for an Indian mobile
        ("+86 238 0013 8000", None),  # not a Chinese mobile prefix
        ("+1 800 FLOWERS", None),  # vanity letters are not read as digits
        ("+1A693421974", None),
        ("+999 123 456 789", None),  # no country uses +999
        ("+44 20 7946\x000958", None),
        ("+" + "1" * 80, None),
        ("020 7946 0958", "ZZ"),  # an unknown region reads nothing
    ],
)
def test_what_is_not_a_dialable_number_is_refused(written: str, region: str | None) -> None:
    assert to_e164(written, region=region) is None
    assert not is_valid(written, region=region)
    with pytest.raises(InvalidPhoneNumber):
        normalise(written, region=region)


def test_strict_wants_an_allocated_number_lenient_a_possible_one() -> None:
    drama = "+44 7700 900123"  # Ofcom's range for fiction: right length, never allocated
    assert to_e164(drama) is None
    assert to_e164(drama, strict=False) == "+447700900123"
    assert to_e164("+44 7700", strict=False) is None
    # WhatsApp's spelling of a Mexican mobile, with the `1` Mexico dropped in 2019.
    assert to_e164("+52 1 55 1234 5678") is None
    assert to_e164("+52 1 55 1234 5678", strict=False) == "+5215512345678"
    assert to_e164("+52 1 55 1234 5678 9012", strict=False) is None
    assert to_e164("+999 123 456 789", strict=False) is None


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+442079460958", "+44******0958"),
        ("+4915123456789", "+49*******6789"),
        ("+919876543210", "+91******3210"),
        ("+8613800138000", "+86*******8000"),
        ("+14155550123", "+1******0123"),
    ],
)
def test_masks_keep_the_country_and_the_last_four_digits(number: str, masked: str) -> None:
    assert mask(number) == masked


def test_masking_what_is_not_a_number_still_hides_its_digits() -> None:
    assert mask("0207 946 0958") == "*******0958"
    assert mask("+999 123 456 789") == "+********6789"
    assert mask_phone("+14155550123") == "+*******0123"
    assert mask_phone("INC-1042") == "INC-1042"


def test_numbers_inside_text_are_masked_and_dates_are_not() -> None:
    text = "Call +44 20 7946 0958 or 0151 234 5678 before 2026-12-03 about INC-42."
    masked = mask_in_text(text)
    assert "7946 0958" not in masked
    assert "234 5678" not in masked
    assert "+44******0958" in masked
    assert "2026-12-03" in masked
    assert "INC-42" in masked


@pytest.mark.parametrize(
    ("typed", "candidate"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("0049 30 1234567", "+49301234567"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("4155550123", None),
        ("+12", None),
        ("call me", None),
    ],
)
def test_the_conversation_model_only_reshapes_what_was_typed(
    typed: str, candidate: str | None
) -> None:
    assert phone_candidate(typed) == candidate


def test_url_encoded_numbers_are_masked_too() -> None:
    masked = mask_in_text("GET /Messages.json?To=%2B442079460958&PageSize=50")
    assert "2079460958" not in masked
    assert "To=+44******0958&PageSize=50" in masked
