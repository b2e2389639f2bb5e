"""catalog: items, the orders behind service requests, knowledge deflections

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-03 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types  # noqa: F401  (UTCDateTime and JSON columns)


revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("aliases", store.types.JSONType, nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fields", store.types.JSONType, nullable=False),
        sa.Column("approval", sa.String(length=16), nullable=False),
        sa.Column("approval_group_id", sa.Integer(), nullable=True),
        sa.Column("fulfilment_group_id", sa.Integer(), nullable=True),
        sa.Column("fulfilment_target", sa.String(length=24), nullable=True),
        sa.Column("roles", store.types.JSONType, nullable=False),
        sa.Column("organisations", store.types.JSONType, nullable=False),
        sa.Column("cost", sa.String(length=60), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_group_id"],
            ["groups.id"],
            name=op.f("fk_catalog_items_approval_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["fulfilment_group_id"],
            ["groups.id"],
            name=op.f("fk_catalog_items_fulfilment_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("name", name=op.f("uq_catalog_items_name")),
    )
    op.create_table(
        "catalog_requests",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("answers", store.types.JSONType, nullable=False),
        sa.Column("approval", sa.String(length=16), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("approval_group_id", sa.Integer(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approval_group_id"],
            ["groups.id"],
            name=op.f("fk_catalog_requests_approval_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["people.id"],
            name=op.f("fk_catalog_requests_approver_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["catalog_items.id"],
            name=op.f("fk_catalog_requests_item_id_catalog_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_catalog_requests_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_catalog_requests")),
    )
    op.create_table(
        "deflections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("intent", sa.String(length=40), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_deflections_article_id_knowledge_articles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_deflections_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deflections")),
    )
    with op.batch_alter_table("deflections", schema=None) as batch_op:
        batch_op.create_index("ix_deflections_outcome_at", ["outcome", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deflections", schema=None) as batch_op:
        batch_op.drop_index("ix_deflections_outcome_at")
    op.drop_table("deflections")
    op.drop_table("catalog_requests")
    op.drop_table("catalog_items")
