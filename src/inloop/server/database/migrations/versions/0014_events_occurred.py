"""An index on when events occurred: retention deletes (and `since` filters) by it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_events_occurred', 'events', ['occurred'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_events_occurred', table_name='events')
