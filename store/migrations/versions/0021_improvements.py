"""improvements: the continual improvement register

Revision ID: 0021
Revises: 0015
Create Date: 2026-12-03 17:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0021"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
