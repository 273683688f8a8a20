"""Signed resume links: one row per link, bound to a run's pause key, expiring, single-use.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('resume_links',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('pause_key', sa.String(length=200), nullable=False),
    sa.Column('recipient', sa.String(length=300), nullable=False),
    sa.Column('created_by', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_from', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], name=op.f('fk_resume_links_flow_run_id_flow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resume_links'))
    )
    op.create_index('ix_resume_links_flow_run_id', 'resume_links', ['flow_run_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_resume_links_flow_run_id', table_name='resume_links')
    op.drop_table('resume_links')
