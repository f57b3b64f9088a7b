"""Who writes the journal: one process per node holds its writer lock, registers its boot, beats.

A node's row names its current boot. What carries another boot id (a claim, a temporary's tag) and is
not some node's current boot was left by an earlier run; only that is cleaned up at start.
"""

from __future__ import annotations

import time

from sqlalchemy import select, update

from journal.engine import Database
from journal.errors import JournalError
from journal.models import Alert, FileRow, NodeRow, ScrubRun, Skip, SmartSample, TargetRow
from journal.records import Incarnation, NodeRecord
from journal.writerlock import JournalBusy, WriterLock, writer_lock

LIVE = 15.0  # seconds: a node whose heartbeat is younger than this and that did not stop is running
OWNED = (FileRow, Skip, ScrubRun, Alert, SmartSample)


class NodeInUse(JournalBusy):
    """Another server, still beating, runs under this node name (two configs that name the same node)."""

    def __init__(self, node: str, row: NodeRow, age: float):
        self.journal, self.holder = node, f"{row.host} (pid {row.pid})"
        JournalError.__init__(self, f"node {node} is running on {row.host} (pid {row.pid}, heartbeat "
                              f"{age:.0f} s ago): give this server its own `node:` in its config")


class NodeRegistry(Database):
    _writer: WriterLock | None = None
    _registered: Incarnation | None = None

    def lock_writer(self, me: Incarnation) -> None:
        """Take this node's writer lock, or raise JournalBusy naming who has it. Taken before anything
        is migrated or read, so a refused process has changed nothing."""
        lock = writer_lock(self.url, me.node)
        lock.acquire(me)
        self._writer = lock

    def register_node(self, me: Incarnation) -> None:
        """Record this boot as the node's current one (needs the writer lock and a migrated journal), and
        take what was written before nodes owned rows. NodeInUse when another host still beats under this
        name: a writer lock is no proof against that on PostgreSQL, whose advisory locks a failover (or a
        lost connection) drops while their holder runs on."""
        with self.session() as session:
            row = session.get(NodeRow, me.node, with_for_update=True)
            now = time.time()
            if (row is not None and row.host != me.host and row.stopped_at is None
                    and 0 <= now - row.heartbeat_at < LIVE):
                raise NodeInUse(me.node, row, now - row.heartbeat_at)
            _adopt_unowned(session, me.node)
            session.merge(NodeRow(name=me.node, boot_id=me.boot_id, host=me.host, pid=me.pid,
                                  command=me.command, version=me.version, started_at=me.started_at,
                                  heartbeat_at=time.time(), stopped_at=None))
        self._registered = me

    def keep_writer_lock(self) -> str:
        """Check the lock is still ours, and take it again if its connection was lost: "held",
        "retaken", or "lost" (the database is away; try again later). JournalBusy when another process
        took it meanwhile: this one must stop writing."""
        if self._writer is None or self._writer.held():
            return "held"
        try:
            self._writer.retake()
        except JournalBusy:
            raise
        except JournalError:
            return "lost"
        return "retaken"

    def node_heartbeat(self) -> bool:
        """Say this boot is alive; False when the node's row names another boot (it was taken over)."""
        me = self._registered
        if me is None:
            return True
        with self.session() as session:
            result = session.execute(update(NodeRow).where(NodeRow.name == me.node, NodeRow.boot_id == me.boot_id)
                                     .values(heartbeat_at=time.time()))
            return (result.rowcount or 0) == 1

    def nodes(self) -> list[NodeRecord]:
        with self.reading() as session:
            rows = session.execute(select(NodeRow).order_by(NodeRow.name)).scalars().all()
            return [NodeRecord(r.name, r.boot_id, r.host, r.pid, r.command, r.version, r.started_at,
                               r.heartbeat_at, r.stopped_at) for r in rows]

    def running_tags(self) -> set[str]:
        """Temporary-name tags of every boot that may still be writing (no clean stop recorded)."""
        with self.reading() as session:
            boots = session.execute(select(NodeRow.boot_id).where(NodeRow.stopped_at.is_(None))).scalars()
            return {boot[:8] for boot in boots}

    def release_writer(self) -> None:
        """A clean stop: the node's row says so, and the lock goes."""
        me, self._registered = self._registered, None
        if me is not None:
            try:
                with self.session() as session:
                    session.execute(update(NodeRow).where(NodeRow.name == me.node, NodeRow.boot_id == me.boot_id)
                                    .values(stopped_at=time.time()))
            except Exception:  # noqa: BLE001 - a full or lost journal must not keep the lock held
                pass
        lock, self._writer = self._writer, None
        if lock is not None:
            lock.release()

    def close(self) -> None:
        self.release_writer()
        super().close()


def _adopt_unowned(session, node: str) -> None:
    """Rows from before the journal knew nodes (one server's, schema 0005 or older) become ``node``'s."""
    for model in OWNED:
        session.execute(update(model).where(model.node.is_(None)).values(node=node))
    session.execute(update(TargetRow).where(TargetRow.node == "").values(node=node))
