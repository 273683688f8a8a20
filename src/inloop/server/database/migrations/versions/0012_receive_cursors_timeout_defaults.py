"""Receive cursors (durable receive position) and what a pause does at its deadline.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('receive_cursors',
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('after_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], name=op.f('fk_receive_cursors_flow_run_id_flow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('flow_run_id', 'name', name=op.f('pk_receive_cursors')),
    )
    # batch mode: SQLite cannot alter a table in place; PostgreSQL gets plain ALTERs.
    with op.batch_alter_table('flow_runs') as batch:
        batch.add_column(sa.Column('pause_on_timeout', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('pause_timeout_input', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flow_runs') as batch:
        batch.drop_column('pause_timeout_input')
        batch.drop_column('pause_on_timeout')
    op.drop_table('receive_cursors')
