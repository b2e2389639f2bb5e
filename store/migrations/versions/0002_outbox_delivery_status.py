"""outbox delivery status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:40:50.703499
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types  # noqa: F401  (UTCDateTime columns)
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=Text()))


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_status', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('delivery_updated_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_external', ['platform', 'external_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_external')
        batch_op.drop_column('delivery_updated_at')
        batch_op.drop_column('delivery_status')

