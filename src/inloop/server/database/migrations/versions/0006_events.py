"""Events: the append-only audit trail of state changes, inputs, resumes and cancellations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('occurred', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('actor', sa.String(length=300), nullable=True),
    sa.Column('flow_run_id', sa.String(length=36), nullable=True),
    sa.Column('remote', sa.String(length=100), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_events_flow_run_id_id', 'events', ['flow_run_id', 'id'], unique=False)
    op.create_index('ix_events_kind_id', 'events', ['kind', 'id'], unique=False)
    op.create_index('ix_events_actor_id', 'events', ['actor', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_events_actor_id', table_name='events')
    op.drop_index('ix_events_kind_id', table_name='events')
    op.drop_index('ix_events_flow_run_id_id', table_name='events')
    op.drop_table('events')
