"""catalog: approval chains with a quorum per step, fulfilment tasks, automations

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-04 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approvals", store.types.JSONType, nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("tasks", store.types.JSONType, nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("tasks_parallel", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("automation", store.types.JSONType, nullable=True))
    with op.batch_alter_table("catalog_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("chain", store.types.JSONType, nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "catalog_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_catalog_decisions_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_catalog_decisions_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_decisions")),
        sa.UniqueConstraint(
            "ticket_id", "step", "person_id", name=op.f("uq_catalog_decisions_ticket_id_step_person_id")
        ),
    )
    op.create_table(
        "fulfilment_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("automation", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("opened_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["done_by_id"],
            ["people.id"],
            name=op.f("fk_fulfilment_tasks_done_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_fulfilment_tasks_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_fulfilment_tasks_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilment_tasks")),
        sa.UniqueConstraint(
            "ticket_id", "position", name=op.f("uq_fulfilment_tasks_ticket_id_position")
        ),
    )


def downgrade() -> None:
    op.drop_table("fulfilment_tasks")
    op.drop_table("catalog_decisions")
    with op.batch_alter_table("catalog_requests", schema=None) as batch_op:
        batch_op.drop_column("step")
        batch_op.drop_column("chain")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_column("automation")
        batch_op.drop_column("tasks_parallel")
        batch_op.drop_column("tasks")
        batch_op.drop_column("approvals")
