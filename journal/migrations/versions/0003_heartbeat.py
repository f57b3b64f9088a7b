"""heartbeat row for the writability probe

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("heartbeat", sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("beat_at", sa.Float(), nullable=False), sa.PrimaryKeyConstraint("id"))


def downgrade() -> None:
    op.drop_table("heartbeat")
