"""supplier warnings: the 75 % instants of a supplier's contract clock

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0022"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Hand-offs made before this revision keep no warning instants: they only breach.
    with op.batch_alter_table("supplier_handoffs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("response_warn_at", store.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("resolve_warn_at", store.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("supplier_handoffs", schema=None) as batch_op:
        batch_op.drop_column("resolve_warn_at")
        batch_op.drop_column("response_warn_at")
