"""identity link codes: one-time codes binding accounts to people, and the guessing guard

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:51:26.930133
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types  # noqa: F401  (UTCDateTime columns)
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=Text()))


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('link_guards',
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'external_id', name=op.f('pk_link_guards'))
    )
    op.create_table('link_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.Enum('sms', 'pairing', name='linkmethod', native_enum=False, length=16), nullable=False),
    sa.Column('target_platform', sa.String(length=32), nullable=True),
    sa.Column('target_external_id', sa.String(length=200), nullable=True),
    sa.Column('origin_key', sa.String(length=400), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('redeemed_platform', sa.String(length=32), nullable=True),
    sa.Column('redeemed_external_id', sa.String(length=200), nullable=True),
    sa.Column('closed_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_link_attempts_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_attempts')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_link_attempts_code_hash'))
    )
    with op.batch_alter_table('link_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_link_attempts_person_method', ['person_id', 'method'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('link_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_link_attempts_person_method')

    op.drop_table('link_attempts')
    op.drop_table('link_guards')
