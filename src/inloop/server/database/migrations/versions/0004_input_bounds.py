"""64-bit sequences on PostgreSQL: input seq, state history id, log id, run state_seq.

Clients page by these (after_seq, after_id) with cursors up to 2**63 - 1; a 32-bit column made
such a cursor overflow the driver, and would one day run out. SQLite's INTEGER is 64-bit
already (and an autoincrementing key there must stay INTEGER), so SQLite has nothing to change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# (table, column, has its own sequence)
COLUMNS = [
    ('flow_run_inputs', 'seq', True),
    ('flow_run_states', 'id', True),
    ('logs', 'id', True),
    ('flow_runs', 'state_seq', False),
]


def _alter(type_: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    for table, column, serial in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_}')
        if serial:
            sequence = bind.execute(
                sa.text('SELECT pg_get_serial_sequence(:table, :column)'),
                {'table': table, 'column': column},
            ).scalar()
            if sequence:
                # A sequence of type integer stops at 2**31 - 1 whatever its column holds.
                op.execute(f'ALTER SEQUENCE {sequence} AS {type_}')


def upgrade() -> None:
    _alter('BIGINT')


def downgrade() -> None:
    _alter('INTEGER')
