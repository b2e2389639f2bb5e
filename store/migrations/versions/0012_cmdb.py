"""cmdb: item attributes, item history, indexes for impact traversal

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-03 14:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types  # noqa: F401  (UTCDateTime columns)


revision: str = "0012"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        # Existing rows get an empty mapping; new rows get theirs from the ORM.
        batch_op.add_column(
            sa.Column("attributes", store.types.JSONType, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.create_index("ix_services_parent_id", ["parent_id"], unique=False)
    with op.batch_alter_table("service_links", schema=None) as batch_op:
        batch_op.create_index("ix_service_links_target_id", ["target_id"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_service_status", ["service_id", "status"], unique=False)
    op.create_table(
        "ci_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("changes", store.types.JSONType, nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["people.id"], name=op.f("fk_ci_events_actor_id_people"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_ci_events_service_id_services"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_events")),
    )
    with op.batch_alter_table("ci_events", schema=None) as batch_op:
        batch_op.create_index("ix_ci_events_service", ["service_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ci_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ci_events_service")
    op.drop_table("ci_events")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_service_status")
    with op.batch_alter_table("service_links", schema=None) as batch_op:
        batch_op.drop_index("ix_service_links_target_id")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index("ix_services_parent_id")
        batch_op.drop_column("attributes")
