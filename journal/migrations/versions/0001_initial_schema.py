"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 08:26:32.742172
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('alertname', sa.String(length=128), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('resolved_at', sa.Float(), nullable=True),
    sa.Column('last_notified_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_key_state', ['key', 'state'], unique=False)

    op.create_table('files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watch', sa.String(length=255), nullable=False),
    sa.Column('path', sa.LargeBinary(), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
    sa.Column('deleted_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('watch', 'path', name='uq_files_watch_path')
    )
    op.create_table('skips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watch', sa.String(length=255), nullable=False),
    sa.Column('path', sa.LargeBinary(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('seen_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('watch', 'path', name='uq_skips_watch_path')
    )
    op.create_table('smart_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device', sa.String(length=255), nullable=False),
    sa.Column('polled_at', sa.Float(), nullable=False),
    sa.Column('attribute', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('smart_samples', schema=None) as batch_op:
        batch_op.create_index('ix_smart_samples_device_attr_time', ['device', 'attribute', 'polled_at'], unique=False)

    op.create_table('targets',
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('marker_id', sa.String(length=64), nullable=False),
    sa.Column('initialised_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('seen_at', sa.Float(), nullable=False),
    sa.Column('completed_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('file_id', 'number', name='uq_versions_file_number')
    )
    with op.batch_alter_table('versions', schema=None) as batch_op:
        batch_op.create_index('ix_versions_completed_at', ['completed_at'], unique=False)

    op.create_table('replicas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=63), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('verified_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'target', name='uq_replicas_version_target')
    )
    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.create_index('ix_replicas_target_state_due', ['target', 'state', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.drop_index('ix_replicas_target_state_due')

    op.drop_table('replicas')
    with op.batch_alter_table('versions', schema=None) as batch_op:
        batch_op.drop_index('ix_versions_completed_at')

    op.drop_table('versions')
    op.drop_table('targets')
    with op.batch_alter_table('smart_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_smart_samples_device_attr_time')

    op.drop_table('smart_samples')
    op.drop_table('skips')
    op.drop_table('files')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_key_state')

    op.drop_table('alerts')
