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
    # batch mode: SQLite cannot add a unique constraint to an existing table in place.
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('oidc_subject', sa.String(length=500), nullable=True))
        batch.create_unique_constraint(op.f('uq_users_oidc_subject'), ['oidc_subject'])
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
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint(op.f('uq_users_oidc_subject'), type_='unique')
        batch.drop_column('oidc_subject')
