"""Blocks get an id, which JSON.save() returns like the reference's Block.save().

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
import uuid

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable first, so existing rows can be given ids before the constraint applies.
    with op.batch_alter_table('blocks') as batch:
        batch.add_column(sa.Column('id', sa.String(length=36), nullable=True))
    conn = op.get_bind()
    blocks = sa.table('blocks', sa.column('block_type'), sa.column('name'), sa.column('id'))
    rows = conn.execute(sa.select(blocks.c.block_type, blocks.c.name)).all()
    for block_type, name in rows:
        conn.execute(
            blocks.update()
            .where(blocks.c.block_type == block_type, blocks.c.name == name)
            .values(id=str(uuid.uuid4()))
        )
    with op.batch_alter_table('blocks') as batch:
        batch.alter_column('id', existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint(op.f('uq_blocks_id'), ['id'])


def downgrade() -> None:
    with op.batch_alter_table('blocks') as batch:
        batch.drop_constraint(op.f('uq_blocks_id'), type_='unique')
        batch.drop_column('id')
