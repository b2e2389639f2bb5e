"""The body check's shortcut refuses exactly what the full check refuses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.guards import (
    _JSON_STRING,
    Refused,
    _depth,
    _oversized_int_in_json,
    check_body,
)

LIMIT = 4

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet='0123456789[]{}"\\ab', max_size=30)
)
_documents = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


def _refused_in_full(raw: bytes, limit: int) -> bool:
    structure = _JSON_STRING.sub(b'""', raw)
    return _depth(structure, limit) > limit or _oversized_int_in_json(structure)


def _refused(raw: bytes, limit: int) -> bool:
    try:
        check_body(raw, "application/json", limit)
    except Refused:
        return True
    return False


@given(_documents)
def test_a_body_is_refused_exactly_when_the_full_check_refuses_it(document: object) -> None:
    raw = json.dumps(document).encode()
    assert _refused(raw, LIMIT) == _refused_in_full(raw, LIMIT)


@pytest.mark.parametrize(
    ("raw", "refused"),
    [
        (b'{"a": [[[[1]]]]}', True),  # five levels
        (b'{"a": "[[[[[[[[", "b": [[1]]}', False),  # brackets in a string
        (b'{"n": 12345678901234567890}', True),
        (b'{"n": "12345678901234567890"}', False),  # digits in a string
        (b'{"n": 1234567890123456789, "t": 1700000000.123456}', False),  # fits in 64 bits
        (b'{"f": 0.12345678901234567890}', False),  # a fraction
    ],
)
def test_bodies_near_the_bounds(raw: bytes, refused: bool) -> None:
    assert _refused(raw, LIMIT) is refused
    assert _refused_in_full(raw, LIMIT) is refused
