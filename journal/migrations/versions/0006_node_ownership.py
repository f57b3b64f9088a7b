"""node columns: files, skips, node-local targets, scrubs, alerts and SMART samples belong to a node

Expand only: the columns are nullable (targets': empty), and rows written before them (by a single server) carry NULL
until that server's first start under this schema gives them its node name (journal.nodes
adopt_unowned). Uniqueness moves from (watch, path) to (node, watch, path), so identical configs on
two servers keep apart.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OWNED = ("files", "skips", "scrubs", "alerts", "smart_samples")


def upgrade() -> None:
    for table in OWNED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("node", sa.String(length=63), nullable=True))
    for table in ("files", "skips"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_watch_path", type_="unique")
            batch_op.create_unique_constraint(f"uq_{table}_node_watch_path", ["node", "watch", "path"])
    # a node-local target's name is its node's own: (node, name) is the key ("*": a shared target)
    _rekey_targets(["node", "name"], "''")


def downgrade() -> None:
    _rekey_targets(["name"], None)
    for table in ("files", "skips"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_node_watch_path", type_="unique")
            batch_op.create_unique_constraint(f"uq_{table}_watch_path", ["watch", "path"])
    for table in OWNED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("node")


def _rekey_targets(key: list[str], node: str | None) -> None:
    """A new primary key, by copying (SQLite cannot alter one): ``node`` None drops the column."""
    columns = [sa.Column("name", sa.String(length=63), nullable=False),
               sa.Column("marker_id", sa.String(length=64), nullable=False),
               sa.Column("initialised_at", sa.Float(), nullable=False)]
    if node is not None:
        columns.insert(0, sa.Column("node", sa.String(length=63), nullable=False, server_default=""))
    op.create_table("targets_rekeyed", *columns, sa.PrimaryKeyConstraint(*key, name=f"pk_targets_{len(key)}"))
    names = "name, marker_id, initialised_at"
    if node is None:
        op.execute(f"INSERT INTO targets_rekeyed ({names}) SELECT {names} FROM targets")
    else:
        op.execute(f"INSERT INTO targets_rekeyed (node, {names}) SELECT {node}, {names} FROM targets")
    op.drop_table("targets")
    op.rename_table("targets_rekeyed", "targets")
