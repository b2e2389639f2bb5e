"""supplier handoffs and survey answers

Revision ID: 0019
Revises: 0020
Create Date: 2026-12-03 16:30:36.367268
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types  # noqa: F401  (UTCDateTime columns)
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=Text()))


revision: str = '0019'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('supplier_handoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('supplier', sa.String(length=120), nullable=False),
    sa.Column('contract', sa.String(length=120), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('handed_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('response_due_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolve_due_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['people.id'], name=op.f('fk_supplier_handoffs_by_id_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_supplier_handoffs_supplier_id_suppliers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_supplier_handoffs_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_handoffs'))
    )
    with op.batch_alter_table('supplier_handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_supplier_handoffs_next_at', ['next_at'], unique=False)
        batch_op.create_index('ix_supplier_handoffs_ticket', ['ticket_id'], unique=False)

    op.create_table('survey_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('asked_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reasked', sa.Boolean(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('answered_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['people.id'], name=op.f('fk_survey_answers_agent_id_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_survey_answers_group_id_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_survey_answers_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answers')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_survey_answers_ticket_id'))
    )
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.create_index('ix_survey_answers_answered_at', ['answered_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answers_answered_at')

    op.drop_table('survey_answers')
    with op.batch_alter_table('supplier_handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_supplier_handoffs_ticket')
        batch_op.drop_index('ix_supplier_handoffs_next_at')

    op.drop_table('supplier_handoffs')
