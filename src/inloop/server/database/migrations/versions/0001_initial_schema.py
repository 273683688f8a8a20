"""Initial schema: flows, deployments, runs, state history, inputs, task results, logs, blocks.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blocks',
    sa.Column('block_type', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('block_type', 'name', name=op.f('pk_blocks'))
    )
    op.create_table('flows',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flows')),
    sa.UniqueConstraint('name', name=op.f('uq_flows_name'))
    )
    op.create_table('deployments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('flow_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('entrypoint', sa.Text(), nullable=False),
    sa.Column('parameter_schema', sa.JSON(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_polled', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('fk_deployments_flow_id_flows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments')),
    sa.UniqueConstraint('flow_id', 'name', name=op.f('uq_deployments_flow_id_name'))
    )
    op.create_table('flow_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('flow_id', sa.String(length=36), nullable=False),
    sa.Column('deployment_id', sa.String(length=36), nullable=True),
    sa.Column('parent_flow_run_id', sa.String(length=36), nullable=True),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('state_type', sa.String(length=20), nullable=False),
    sa.Column('state_name', sa.String(length=50), nullable=False),
    sa.Column('state_message', sa.Text(), nullable=True),
    sa.Column('state_timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_details', sa.JSON(), nullable=False),
    sa.Column('state_seq', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pause_key', sa.String(length=200), nullable=True),
    sa.Column('pause_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pause_reschedule', sa.Boolean(), nullable=False),
    sa.Column('pause_started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('runner_id', sa.String(length=100), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_flow_runs_deployment_id_deployments')),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('fk_flow_runs_flow_id_flows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_runs'))
    )
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.create_index('ix_flow_runs_created', ['created'], unique=False)
        batch_op.create_index('ix_flow_runs_deployment_id_state_type', ['deployment_id', 'state_type'], unique=False)
        batch_op.create_index('ix_flow_runs_flow_id_created', ['flow_id', 'created'], unique=False)
        batch_op.create_index('ix_flow_runs_state_type_created', ['state_type', 'created'], unique=False)

    op.create_table('flow_run_inputs',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('sender', sa.String(length=300), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], name=op.f('fk_flow_run_inputs_flow_run_id_flow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_flow_run_inputs')),
    sa.UniqueConstraint('flow_run_id', 'key', name=op.f('uq_flow_run_inputs_flow_run_id_key'))
    )
    with op.batch_alter_table('flow_run_inputs', schema=None) as batch_op:
        batch_op.create_index('ix_flow_run_inputs_flow_run_id_seq', ['flow_run_id', 'seq'], unique=False)

    op.create_table('flow_run_states',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], name=op.f('fk_flow_run_states_flow_run_id_flow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_run_states'))
    )
    with op.batch_alter_table('flow_run_states', schema=None) as batch_op:
        batch_op.create_index('ix_flow_run_states_flow_run_id_id', ['flow_run_id', 'id'], unique=False)

    op.create_table('logs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('logger', sa.String(length=300), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], name=op.f('fk_logs_flow_run_id_flow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_logs'))
    )
    with op.batch_alter_table('logs', schema=None) as batch_op:
        batch_op.create_index('ix_logs_flow_run_id_id', ['flow_run_id', 'id'], unique=False)

    op.create_table('task_run_results',
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('task_key', sa.String(length=300), nullable=False),
    sa.Column('task_name', sa.String(length=200), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], name=op.f('fk_task_run_results_flow_run_id_flow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('flow_run_id', 'task_key', name=op.f('pk_task_run_results'))
    )


def downgrade() -> None:
    op.drop_table('task_run_results')
    with op.batch_alter_table('logs', schema=None) as batch_op:
        batch_op.drop_index('ix_logs_flow_run_id_id')

    op.drop_table('logs')
    with op.batch_alter_table('flow_run_states', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_run_states_flow_run_id_id')

    op.drop_table('flow_run_states')
    with op.batch_alter_table('flow_run_inputs', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_run_inputs_flow_run_id_seq')

    op.drop_table('flow_run_inputs')
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_runs_state_type_created')
        batch_op.drop_index('ix_flow_runs_flow_id_created')
        batch_op.drop_index('ix_flow_runs_deployment_id_state_type')
        batch_op.drop_index('ix_flow_runs_created')

    op.drop_table('flow_runs')
    op.drop_table('deployments')
    op.drop_table('flows')
    op.drop_table('blocks')
