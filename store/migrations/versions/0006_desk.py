"""desk configuration: calendars, service levels, suppliers, routing and SLA columns

Existing rows get defaults for the new NOT NULL columns (server defaults): no ticket
has an agreement until it is created or reprioritised after the import.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03 13:37:04.863132
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types  # noqa: F401  (UTCDateTime columns)
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('holidays', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendars')),
    sa.UniqueConstraint('name', name=op.f('uq_calendars_name'))
    )
    op.create_table('service_levels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('organisation', sa.String(length=120), nullable=True),
    sa.Column('kind', sa.Enum('incident', 'request', 'problem', 'change', name='ticketkind', native_enum=False, length=24), nullable=True),
    sa.Column('service', sa.String(length=120), nullable=True),
    sa.Column('calendar_id', sa.Integer(), nullable=True),
    sa.Column('targets', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('close_after', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_service_levels_calendar_id_calendars'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_levels')),
    sa.UniqueConstraint('name', name=op.f('uq_service_levels_name'))
    )
    op.create_table('suppliers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('contract', sa.String(length=120), nullable=True),
    sa.Column('calendar_id', sa.Integer(), nullable=True),
    sa.Column('targets', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('contact', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_suppliers_calendar_id_calendars'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
    sa.UniqueConstraint('name', name=op.f('uq_suppliers_name'))
    )
    op.create_table('service_links',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_links_service_id_services'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['services.id'], name=op.f('fk_service_links_target_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_id', 'target_id', 'relation', name=op.f('pk_service_links'))
    )
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('slack_channel', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('telegram_chat', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('auto_assign', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('is_default', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('oncall', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_groups_lead_id_people'), 'people', ['lead_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manager_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('organisation', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('devices', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False, server_default=sa.text("'[]'")))
        batch_op.create_foreign_key(batch_op.f('fk_people_manager_id_people'), 'people', ['manager_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('type', sa.String(length=40), nullable=False, server_default='service'))
        batch_op.add_column(sa.Column('supplier_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('skills', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False, server_default=sa.text("'[]'")))
        batch_op.create_foreign_key(batch_op.f('fk_services_supplier_id_suppliers'), 'suppliers', ['supplier_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('response_warn_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('response_due_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolve_warn_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolve_due_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('responded_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_seconds', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('sla_next_at', store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_tickets_resolve_due_at', ['resolve_due_at'], unique=False)
        batch_op.create_index('ix_tickets_response_due_at', ['response_due_at'], unique=False)
        batch_op.create_index('ix_tickets_sla_next_at', ['sla_next_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_sla_next_at')
        batch_op.drop_index('ix_tickets_response_due_at')
        batch_op.drop_index('ix_tickets_resolve_due_at')
        batch_op.drop_column('sla_next_at')
        batch_op.drop_column('sla_paused_seconds')
        batch_op.drop_column('sla_paused_at')
        batch_op.drop_column('responded_at')
        batch_op.drop_column('resolve_due_at')
        batch_op.drop_column('resolve_warn_at')
        batch_op.drop_column('response_due_at')
        batch_op.drop_column('response_warn_at')
        batch_op.drop_column('sla_name')

    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_services_supplier_id_suppliers'), type_='foreignkey')
        batch_op.drop_column('skills')
        batch_op.drop_column('supplier_id')
        batch_op.drop_column('type')

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_people_manager_id_people'), type_='foreignkey')
        batch_op.drop_column('devices')
        batch_op.drop_column('organisation')
        batch_op.drop_column('language')
        batch_op.drop_column('manager_id')

    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_groups_lead_id_people'), type_='foreignkey')
        batch_op.drop_column('oncall')
        batch_op.drop_column('is_default')
        batch_op.drop_column('auto_assign')
        batch_op.drop_column('telegram_chat')
        batch_op.drop_column('slack_channel')
        batch_op.drop_column('lead_id')

    op.drop_table('service_links')
    op.drop_table('suppliers')
    op.drop_table('service_levels')
    op.drop_table('calendars')
