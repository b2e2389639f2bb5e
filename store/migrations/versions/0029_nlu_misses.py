"""nlu misses: the intent the model guessed when the router clarified or fell back

Revision ID: 0029
Revises: 0026
Create Date: 2026-12-04 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0029"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nlu_misses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("guessed", sa.String(length=40), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_misses")),
    )
    op.create_index("ix_nlu_misses_at", "nlu_misses", ["at"])


def downgrade() -> None:
    op.drop_index("ix_nlu_misses_at", table_name="nlu_misses")
    op.drop_table("nlu_misses")
