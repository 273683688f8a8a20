"""Automations: their specs, the deliveries events cause, and every delivery attempt.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('automations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automations')),
    sa.UniqueConstraint('name', name=op.f('uq_automations_name')),
    )
    op.create_table('automation_deliveries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('automation_id', sa.String(length=36), nullable=False),
    sa.Column('event_id', BigId, nullable=True),
    sa.Column('event_kind', sa.String(length=100), nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=True),
    sa.Column('state_id', BigId, nullable=True),
    sa.Column('stage', sa.Integer(), nullable=False),
    sa.Column('action_index', sa.Integer(), nullable=False),
    sa.Column('target_index', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['automation_id'], ['automations.id'], name=op.f('fk_automation_deliveries_automation_id_automations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_deliveries')),
    )
    op.create_index('ix_automation_deliveries_status_due', 'automation_deliveries', ['status', 'due'], unique=False)
    op.create_index('ix_automation_deliveries_automation_id_created', 'automation_deliveries', ['automation_id', 'created'], unique=False)
    op.create_index('ix_automation_deliveries_flow_run_id', 'automation_deliveries', ['flow_run_id'], unique=False)
    op.create_table('automation_attempts',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['automation_deliveries.id'], name=op.f('fk_automation_attempts_delivery_id_automation_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_attempts')),
    )
    op.create_index('ix_automation_attempts_delivery_id', 'automation_attempts', ['delivery_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_automation_attempts_delivery_id', table_name='automation_attempts')
    op.drop_table('automation_attempts')
    op.drop_index('ix_automation_deliveries_flow_run_id', table_name='automation_deliveries')
    op.drop_index('ix_automation_deliveries_automation_id_created', table_name='automation_deliveries')
    op.drop_index('ix_automation_deliveries_status_due', table_name='automation_deliveries')
    op.drop_table('automation_deliveries')
    op.drop_table('automations')
