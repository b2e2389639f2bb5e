"""The hot-path probe charges each statement to its kind and table."""

from __future__ import annotations

import pytest

from benchmarks.hotpath_probe import classify


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT tickets.id FROM tickets WHERE tickets.id = ?", ("SELECT", "tickets")),
        ('INSERT INTO "outbox" (platform) VALUES (?)', ("INSERT", "outbox")),
        ("UPDATE inbox SET status=? WHERE inbox.id IN (?)", ("UPDATE", "inbox")),
        ("DELETE FROM dialogue_state WHERE key = ?", ("DELETE", "dialogue_state")),
        (
            "WITH drawn AS (SELECT nextval($1) AS n) INSERT INTO tickets (number) VALUES (1)",
            ("INSERT", "tickets"),
        ),
        (
            "WITH RECURSIVE reach(id) AS (SELECT 1 UNION SELECT id FROM links) SELECT * FROM links",
            ("SELECT", "links"),
        ),
        ("SELECT nextval($1)", ("SELECT", "(no table)")),
        ("BEGIN IMMEDIATE", ("BEGIN", "")),
    ],
)
def test_statements_are_classified(sql: str, expected: tuple[str, str]) -> None:
    assert classify(sql) == expected
