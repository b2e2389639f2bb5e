"""console queue index: open tickets by group and assignee, covering the queue's order

Revision ID: 0015
Revises: 0020
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["status", "group_id", "assignee_id", "priority", "response_due_at", "resolve_due_at"]


def upgrade() -> None:
    op.create_index("ix_tickets_queue", "tickets", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_tickets_queue", table_name="tickets")
