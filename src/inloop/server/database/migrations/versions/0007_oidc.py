"""OpenID Connect sign-in: a user's bound SSO subject, and the sign-ins under way.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN and a unique index, not batch mode: batch mode on SQLite copies and
    # drops `users`, and with foreign keys on, dropping it would cascade to tokens and sessions.
    op.add_column('users', sa.Column('oidc_subject', sa.String(length=500), nullable=True))
    op.create_index('ix_users_oidc_subject', 'users', ['oidc_subject'], unique=True)
    op.create_table('oidc_logins',
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=100), nullable=False),
    sa.Column('code_verifier', sa.String(length=200), nullable=False),
    sa.Column('next_path', sa.String(length=2000), nullable=False),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_oidc_logins')),
    )
    op.create_index('ix_oidc_logins_expires', 'oidc_logins', ['expires'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_oidc_logins_expires', table_name='oidc_logins')
    op.drop_table('oidc_logins')
    op.drop_index('ix_users_oidc_subject', table_name='users')
    # DROP COLUMN is native on SQLite 3.35+ (no table copy, so no cascade).
    op.drop_column('users', 'oidc_subject')
