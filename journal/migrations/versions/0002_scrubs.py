"""scrub runs

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scrubs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=63), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("corrupt", sa.Integer(), nullable=False),
        sa.Column("unexpected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scrubs") as batch_op:
        batch_op.create_index("ix_scrubs_target_finished", ["target", "finished_at"], unique=False)


def downgrade() -> None:
    op.drop_table("scrubs")
