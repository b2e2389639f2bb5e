"""Phone numbers: any common spelling to E.164, checked against the numbering plans.

Every phone number in Switchboard is E.164 (`+442079460958`): the Twilio channel's senders
and recipients, the directory's `phone` identities, the sender of an SMS link code. Parsing
and validation are Google's libphonenumber metadata (the `phonenumbers` package), so UK,
German, Indian or Chinese numbers are read as well as North American ones.

Two levels of checking: `strict` (the default) asks that the number be allocated in its
country's numbering plan, for numbers a person types or configures; `strict=False` only
asks for a known country code and a whole number (not too short to dial from abroad, at
most 15 digits), for numbers a platform hands us: Twilio knows who wrote better than a
metadata snapshot does, and refusing its sender would lose a message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from channels.conversation import mask_phone

if TYPE_CHECKING:
    import phonenumbers

# `phonenumbers` is imported where a number is parsed: every process masks phone numbers in
# its logs through this module, and most of them never see a number to parse.

__all__ = ["InvalidPhoneNumber", "is_valid", "mask", "normalise", "to_e164"]

# Longer input is no phone number; libphonenumber refuses it too, after more work.
_MAX_INPUT = 64
# Digits and the separators people write between them. No letters: libphonenumber would
# read "+1 800 FLOWERS" as a vanity number, and nobody texts from one.
_WRITTEN = re.compile(r"[+\uff0b]?[\d\s().\-/]+")


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can dial."""


def normalise(text: str, *, region: str | None = None, strict: bool = True) -> str:
    """The E.164 form of a phone number written in any common way.

    Args:
        text: `+44 20 7946 0958`, `0044 (20) 7946-0958`, or a national spelling with `region`.
        region: ISO 3166 country (`GB`, `DE`) for numbers written without a country code;
            None requires a `+` or `00` international prefix.
        strict: require a number allocated in its country's plan (else only a known country
            and a whole number of at most 15 digits).

    Raises:
        InvalidPhoneNumber: the text is not such a number.
    """
    cleaned = text.strip()
    if len(cleaned) > _MAX_INPUT or not _WRITTEN.fullmatch(cleaned):
        raise InvalidPhoneNumber("not a phone number")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat

    try:
        number = phonenumbers.parse(cleaned, region)
    except NumberParseException as e:
        raise InvalidPhoneNumber(f"not a phone number ({e.error_type})") from None
    ok = phonenumbers.is_valid_number(number) if strict else _possible(number)
    if not ok:
        raise InvalidPhoneNumber("not a valid phone number for its country")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def to_e164(text: str, *, region: str | None = None, strict: bool = True) -> str | None:
    """`normalise`, or None when the text is not a phone number."""
    try:
        return normalise(text, region=region, strict=strict)
    except InvalidPhoneNumber:
        return None


def is_valid(text: str, *, region: str | None = None) -> bool:
    """Whether the text is a phone number allocated in its country's numbering plan."""
    return to_e164(text, region=region) is not None


def mask(number: str) -> str:
    """A number as logs may show it: country code and last four digits (`+44******0958`).

    Text libphonenumber cannot read is masked as `mask_phone` masks it.
    """
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat

    try:
        parsed = phonenumbers.parse(number.strip(), None)
    except NumberParseException:
        return mask_phone(number)
    return mask_phone(
        phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        keep_leading=len(str(parsed.country_code)),
    )


def _possible(number: phonenumbers.PhoneNumber) -> bool:
    # A known country code, the whole number (not a local one that needs an area code in
    # front), and no more than E.164's 15 digits. Longer than the country's plan is allowed:
    # WhatsApp still writes Mexican mobiles with the old `1` (+521...), and Twilio passes
    # that on as the sender.
    import phonenumbers

    country = number.country_code
    if country is None or phonenumbers.region_code_for_country_code(country) == "ZZ":
        return False
    digits = len(str(country)) + len(phonenumbers.national_significant_number(number))
    reason = phonenumbers.is_possible_number_with_reason(number)
    return digits <= 15 and reason in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.TOO_LONG,
        phonenumbers.ValidationResult.INVALID_LENGTH,
    )


# A run of digits written like a phone number: an optional `+` (or `%2B`, URL-encoded), then
# digits and separators.
_IN_TEXT = re.compile(r"(?<![\w/.%-])((?:\+|%2[Bb])?\d[\d\s().-]{6,}\d)(?![\w/])")


def mask_in_text(text: str) -> str:
    """The text with every phone-number-like run masked (`+44******0958`).

    Numbers long enough to dial are masked: nine digits or more, or seven with a `+`. Dates,
    times and short codes stay readable.
    """
    return _IN_TEXT.sub(_mask_match, text)


def _mask_match(m: re.Match[str]) -> str:
    found = m.group(1)
    if found[:3] in ("%2B", "%2b"):
        found = "+" + found[3:]
    digits = sum(c.isdigit() for c in found)
    if digits >= 9 or (found.startswith("+") and digits >= 7):
        return mask(found) if found.startswith("+") else mask_phone(found)
    return m.group(1)
