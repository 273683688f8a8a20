"""SSO sign-ins under way live in a signed cookie, not in a table anyone could fill.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sign-ins under way when the server is upgraded are lost: those people click again.
    op.drop_index('ix_oidc_logins_expires', table_name='oidc_logins')
    op.drop_table('oidc_logins')


def downgrade() -> None:
    op.create_table('oidc_logins',
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=100), nullable=False),
    sa.Column('code_verifier', sa.String(length=200), nullable=False),
    sa.Column('next_path', sa.String(length=2000), nullable=False),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_oidc_logins')),
    )
    op.create_index('ix_oidc_logins_expires', 'oidc_logins', ['expires'], unique=False)
