"""ticket number sequences on PostgreSQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 07:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("incident", "request", "problem", "change")


def upgrade() -> None:
    # SQLite keeps using the counter rows; it has a single writer anyway.
    if op.get_bind().dialect.name != "postgresql":
        return
    for kind in KINDS:
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS ticket_number_{kind} START WITH 1")
        # Continue after the numbers the counter row already handed out.
        op.execute(
            f"SELECT setval('ticket_number_{kind}', last, true) FROM ticket_counters "
            f"WHERE kind = '{kind}' AND last > 0"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for kind in KINDS:
        op.execute(
            f"UPDATE ticket_counters SET last = (SELECT last_value FROM ticket_number_{kind}) "
            f"WHERE kind = '{kind}'"
        )
        op.execute(f"DROP SEQUENCE IF EXISTS ticket_number_{kind}")
