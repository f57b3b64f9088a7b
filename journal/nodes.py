"""Who writes the journal: one process per node holds its writer lock, registers its boot, beats.

A node's row names its current boot. What carries another boot id (a claim, a temporary's tag) and is
not some node's current boot was left by an earlier run; only that is cleaned up at start.
"""

from __future__ import annotations

import time

from sqlalchemy import select, update

from journal.engine import Database, JournalError
from journal.models import NodeRow
from journal.records import Incarnation, NodeRecord
from journal.writerlock import JournalBusy, WriterLock, writer_lock


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
        """Record this boot as the node's current one (needs the writer lock and a migrated journal)."""
        with self.session() as session:
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
