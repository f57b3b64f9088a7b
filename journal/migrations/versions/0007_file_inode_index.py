"""files (node, watch, inode) index: a file moved to a new path finds the replica its bytes already have

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_files_node_watch_inode", "files", ["node", "watch", "inode"])


def downgrade() -> None:
    op.drop_index("ix_files_node_watch_inode", table_name="files")
