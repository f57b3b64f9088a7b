"""What the journal says, summed up: backlog counts, totals, skips, intake, what a target must hold."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import case, func, select

from journal.engine import Database
from journal.models import FileRow, Replica, Skip, Version
from journal.queue import owned_by
from journal.records import ReplicaState, TargetCounts


class Reports(Database):
    def target_counts(self, target: str, include_verified: bool = True, node: str | None = None) -> TargetCounts:
        """Open counts use the (target, state) index, so they cost the backlog, not the journal.
        ``node``: whose replicas (default this node's)."""
        mine = owned_by(node or self.node)
        with self.reading() as session:
            def count(*states: str) -> int:
                return session.execute(select(func.count()).select_from(Replica).where(
                    Replica.target == target, Replica.state.in_(states), mine)).scalar() or 0

            oldest = session.execute(select(func.min(Replica.created_at)).where(
                Replica.target == target, Replica.state.in_(ReplicaState.OPEN), mine)).scalar()
            return TargetCounts(
                verified=count(ReplicaState.VERIFIED) if include_verified else -1,
                pending=count(ReplicaState.PENDING, ReplicaState.COPYING),
                failed=count(ReplicaState.FAILED),
                oldest_pending_at=oldest)

    def fleet_backlog(self) -> dict[str, dict[str, TargetCounts]]:
        """node → target → open counts, for every node with open replicas: the fleet's view in one query."""
        open_ones = (select(FileRow.node, Replica.target, Replica.state, func.count(), func.min(Replica.created_at))
                     .join(Version, Version.id == Replica.version_id).join(FileRow, FileRow.id == Version.file_id)
                     .where(Replica.state.in_(ReplicaState.OPEN))
                     .group_by(FileRow.node, Replica.target, Replica.state))
        found: dict[str, dict[str, list]] = {}
        with self.reading() as session:
            for node, target, state, count, oldest in session.execute(open_ones):
                entry = found.setdefault(node or "", {}).setdefault(target, [0, 0, None])
                entry[1 if state == ReplicaState.FAILED else 0] += count
                entry[2] = oldest if entry[2] is None else min(entry[2], oldest)
        return {node: {target: TargetCounts(-1, pending, failed, oldest)
                       for target, (pending, failed, oldest) in targets.items()}
                for node, targets in found.items()}

    def totals(self) -> tuple[int, int]:
        """(files, bytes) of the newest version of every file that still exists on the primary."""
        with self.reading() as session:
            files, size = session.execute(select(func.count(), func.coalesce(func.sum(FileRow.size), 0))
                                          .where(FileRow.node == self.node, FileRow.deleted_at.is_(None))).one()
            return int(files), int(size)

    def skip_counts(self) -> dict[str, int]:
        with self.reading() as session:
            return dict(session.execute(select(Skip.reason, func.count()).where(Skip.node == self.node)
                                        .group_by(Skip.reason)).all())

    def intake(self, since: float | None, until: float | None, every_node: bool = False
               ) -> Iterator[tuple[str, str, bytes, int, int, float, bool]]:
        """(node, watch, path, version number, size, completed_at, verified on every target) per version
        of this node's files (``every_node``: of the whole fleet's)."""
        verified = func.sum(case((Replica.state == ReplicaState.VERIFIED, 1), else_=0))
        query = (select(FileRow.node, FileRow.watch, FileRow.path, Version.number, Version.size,
                        Version.completed_at, verified == func.count(Replica.id))
                 .join(Version, Version.file_id == FileRow.id).join(Replica, Replica.version_id == Version.id)
                 .group_by(Version.id, FileRow.node, FileRow.watch, FileRow.path, Version.number, Version.size,
                           Version.completed_at)
                 .order_by(Version.completed_at))
        if not every_node:
            query = query.where(FileRow.node == self.node)
        if since is not None:
            query = query.where(Version.completed_at >= since)
        if until is not None:
            query = query.where(Version.completed_at < until)
        return self.stream(query, 5000)

    def verified_replicas(self, target: str) -> Iterator[tuple[str, bytes, int, str, int, int, bool]]:
        """(watch, path, version, sha256, size, mtime_ns, deleted on the primary) of the newest verified
        version of every file on ``target``: what its data area must hold. Streamed."""
        query = (select(FileRow.id, FileRow.watch, FileRow.path, Version.number, Version.sha256, Version.size,
                        Version.mtime_ns, FileRow.deleted_at.is_not(None))
                 .join(Version, Version.file_id == FileRow.id).join(Replica, Replica.version_id == Version.id)
                 .where(FileRow.node == self.node, Replica.target == target,
                        Replica.state == ReplicaState.VERIFIED)
                 .order_by(FileRow.id, Version.number))
        last = None
        for row in self.stream(query, 2000):
            if last is not None and last[0] != row[0]:
                yield last[1:]
            last = row
        if last is not None:
            yield last[1:]
