"""console views and improvement KPIs: saved queue filters; a KPI with baseline and target

Revision ID: 0026
Revises: 0021
Create Date: 2026-12-04 15:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0026"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=500), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_console_views_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_views")),
        sa.UniqueConstraint("person_id", "name", name=op.f("uq_console_views_person_id_name")),
    )
    with op.batch_alter_table("improvements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kpi", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("kpi_baseline", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("kpi_target", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("source_key", sa.String(length=120), nullable=True))
        batch_op.create_index("ix_improvements_source_key", ["source_key"])


def downgrade() -> None:
    with op.batch_alter_table("improvements", schema=None) as batch_op:
        batch_op.drop_index("ix_improvements_source_key")
        batch_op.drop_column("source_key")
        batch_op.drop_column("kpi_target")
        batch_op.drop_column("kpi_baseline")
        batch_op.drop_column("kpi")
    op.drop_table("console_views")
