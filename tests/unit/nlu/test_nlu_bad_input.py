"""Odd input gives a parse result, never an exception."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu.pipeline import SpacyUnderstander
from nlu.text import MAX_CHARS, sanitize
from nlu.types import IntentName

ODD = [
    "",
    "   \n\t ",
    "🔥🔥🔥",
    ":fire: :fire:",
    "\x00\x00\x00",
    "VPN \x00 down\x07\x1b[31m",
    "\ud800 lone surrogate \udfff",
    "hello 你好 привет مرحبا 🙂",
    "a" * 100_000,
    "my laptop is broken " * 5000,
    "<script>alert(1)</script>",
    "\u202eevil bidi\u202c",
]


def test_odd_inputs_parse(understander: SpacyUnderstander) -> None:
    for text in ODD:
        result = understander.parse(text)
        assert isinstance(result.intent, IntentName)
        assert len(result.text) <= MAX_CHARS
        for e in result.entities:
            assert 0 <= e.start <= e.end <= len(result.text)
    assert len(understander.parse_many(ODD)) == len(ODD)


def test_empty_and_emoji_only_are_out_of_scope(understander: SpacyUnderstander) -> None:
    for text in ("", "   ", "🦄🦄", "\x00"):
        result = understander.parse(text)
        assert result.intent == IntentName.OUT_OF_SCOPE
        assert not result.is_confident


def test_sanitize_keeps_offsets() -> None:
    text = "ab\x00c\ud800d"
    clean = sanitize(text)
    assert len(clean) == len(text)
    assert clean == "ab c d"
    assert sanitize("x" * (MAX_CHARS + 10)) == "x" * MAX_CHARS


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=st.characters(codec=None), max_size=300))
def test_any_text_parses(understander: SpacyUnderstander, text: str) -> None:
    result = understander.parse(text)
    assert 0.0 <= result.confidence <= 1.0
    for e in result.entities:
        assert result.text[e.start : e.end] == e.text
