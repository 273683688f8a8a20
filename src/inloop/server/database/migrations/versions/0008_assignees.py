"""Who may answer a pause: its assignees and self-approval flag; who started each run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # All nullable: existing rows read as "no assignees, self-approval allowed, creator unknown",
    # which is exactly how they behaved before.
    with op.batch_alter_table('flow_runs') as batch:
        batch.add_column(sa.Column('pause_assignees', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('pause_allow_self_approval', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('created_by', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flow_runs') as batch:
        batch.drop_column('created_by')
        batch.drop_column('pause_allow_self_approval')
        batch.drop_column('pause_assignees')
