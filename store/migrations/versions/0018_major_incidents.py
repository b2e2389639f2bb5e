"""major incidents: the declared incident, its lead, swarm channel and last update

Revision ID: 0018
Revises: 0020
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "major_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("declared_by_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("swarm_channel", sa.String(length=64), nullable=True),
        sa.Column("last_update", sa.Text(), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("declared_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declared_by_id"],
            ["people.id"],
            name=op.f("fk_major_incidents_declared_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["people.id"],
            name=op.f("fk_major_incidents_lead_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_major_incidents_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_major_incidents")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_major_incidents_ticket_id")),
    )
    with op.batch_alter_table("major_incidents", schema=None) as batch_op:
        batch_op.create_index("ix_major_incidents_open", ["open"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("major_incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_major_incidents_open")
    op.drop_table("major_incidents")
