"""console: the queue's covering index, and the improvement register

Revision ID: 0015
Revises: 0020
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0015"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["status", "group_id", "assignee_id", "priority", "response_due_at", "resolve_due_at"]


def upgrade() -> None:
    op.create_index("ix_tickets_queue", "tickets", COLUMNS)
    op.create_table(
        "improvements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("service", sa.String(length=120), nullable=True),
        sa.Column("benefit", sa.Text(), nullable=False),
        sa.Column("ticket_ref", sa.String(length=24), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposer_id"],
            ["people.id"],
            name=op.f("fk_improvements_proposer_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvements")),
    )
    op.create_index("ix_improvements_stage", "improvements", ["stage", "id"])


def downgrade() -> None:
    op.drop_index("ix_improvements_stage", table_name="improvements")
    op.drop_table("improvements")
    op.drop_index("ix_tickets_queue", table_name="tickets")
