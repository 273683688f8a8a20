"""Resume offers: answers held back while a paused flow's own validators judge them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('resume_offers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('pause_key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('actor', sa.String(length=300), nullable=True),
    sa.Column('remote', sa.String(length=100), nullable=True),
    sa.Column('offered', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('decided', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], name=op.f('fk_resume_offers_flow_run_id_flow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resume_offers'))
    )
    op.create_index('ix_resume_offers_flow_run_id_id', 'resume_offers', ['flow_run_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_resume_offers_flow_run_id_id', table_name='resume_offers')
    op.drop_table('resume_offers')
