"""link code lookup: pairing codes get a public lookup part, wrong guesses count per code

Revision ID: 0020
Revises: 0011
Create Date: 2026-12-03 16:50:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import store.types  # noqa: F401  (UTCDateTime columns)

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

link_attempts = sa.table(
    "link_attempts",
    sa.column("method", sa.String),
    sa.column("lookup", sa.String),
    sa.column("redeemed_at", store.types.UTCDateTime(timezone=True)),
    sa.column("closed_at", store.types.UTCDateTime(timezone=True)),
    sa.column("closed_reason", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("link_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lookup", sa.String(length=8), nullable=True))
        batch_op.create_index(batch_op.f("ix_link_attempts_lookup"), ["lookup"], unique=False)
    # Open pairing codes of the old shape have no lookup part to count guesses against:
    # they end here (they lived 15 minutes at most), and typing one says to ask again.
    op.execute(
        link_attempts.update()
        .where(
            link_attempts.c.method == "pairing",
            link_attempts.c.lookup.is_(None),
            link_attempts.c.redeemed_at.is_(None),
            link_attempts.c.closed_at.is_(None),
        )
        .values(closed_at=datetime.now(UTC), closed_reason="superseded")
    )


def downgrade() -> None:
    with op.batch_alter_table("link_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_attempts_lookup"))
        batch_op.drop_column("lookup")
