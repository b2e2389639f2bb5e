"""indexes for the desk's reports of a period

The messages handled in a period, by intent, read every handled message ever received; the
incidents of a period by service read every incident. Each report now finds its period's
rows through an index that holds both its equality and its range (`inbox(status,
received_at)`, `tickets(kind, created_at)`): SQLite, which has no statistics, otherwise
prefers an index on the equality alone, and that one grows with the whole history.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_inbox_status_received_at", "inbox", ["status", "received_at"]),
    ("ix_tickets_kind_created_at", "tickets", ["kind", "created_at"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
