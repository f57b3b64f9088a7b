"""What ingest records: new file versions (each with a pending replica per target), skips, deletions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, bindparam, insert, select, update

from journal.engine import Database
from journal.models import FileRow, Replica, Skip, Version
from journal.records import Observation, ReplicaState, SkipRecord

CHUNK = 500  # values per IN (...): well inside SQLite's and PostgreSQL's limits


class IngestRecords(Database):
    def known_states(self, watch: str, paths: list[bytes]) -> dict[bytes, tuple[int, int, int | None]]:
        """path → (size, mtime_ns, inode) for a batch of paths: the scan's memory stays flat at a million."""
        with self.reading() as session:
            rows = session.execute(select(FileRow.path, FileRow.size, FileRow.mtime_ns, FileRow.inode,
                                          FileRow.deleted_at)
                                   .where(FileRow.node == self.node, FileRow.watch == watch,
                                          FileRow.path.in_(paths)))
            return {path: (size, mtime, inode) for path, size, mtime, inode, deleted in rows if deleted is None}

    def record_versions(self, observations: Iterable[Observation], targets: list[str]) -> list[Observation]:
        """Record each observation as a new version unless the newest version already matches.

        Replicas still open for older versions of the same file are superseded: their bytes are gone.
        Returns the observations that became new versions. A whole batch costs a few statements, not a
        few per file: this is the hot path of a burst.
        """
        latest = {(obs.watch, obs.path): obs for obs in observations}
        if not latest:
            return []
        with self.session() as session:
            conn = session.connection()
            known = _file_rows(conn, self.node, list(latest))
            changed = [obs for key, obs in latest.items() if key not in known or _differs(known[key], obs)]
            if not changed:
                return []
            file_ids = _upsert_files(conn, self.node, changed, known)
            version_ids = _insert_versions(conn, changed, file_ids, known)
            conn.execute(insert(Replica.__table__), [
                {"version_id": vid, "target": t, "state": ReplicaState.PENDING, "attempts": 0,
                 "next_attempt_at": 0.0, "created_at": obs.completed_at}
                for obs, vid in zip(changed, version_ids) for t in targets])
            return changed

    def record_skips(self, skips: Iterable[SkipRecord]) -> None:
        with self.session() as session:
            for skip in skips:
                row = session.execute(select(Skip).where(Skip.node == self.node, Skip.watch == skip.watch,
                                                         Skip.path == skip.path)).scalar_one_or_none()
                if row is None:
                    session.add(Skip(node=self.node, watch=skip.watch, path=skip.path, reason=skip.reason,
                                     detail=skip.detail, seen_at=skip.seen_at))
                else:
                    row.reason, row.detail, row.seen_at = skip.reason, skip.detail, skip.seen_at

    def current_paths(self, watch: str, prefix: bytes, after: bytes | None, limit: int) -> list[bytes]:
        """Paths not deleted under ``prefix`` (a folder, b"" for all), in path order after ``after``:
        one page of a walk over the journal that the (watch, path) index answers."""
        files = FileRow.__table__
        query = select(files.c.path).where(files.c.node == self.node, files.c.watch == watch,
                                           files.c.deleted_at.is_(None))
        if prefix:
            query = query.where(_below(files, prefix))
        if after is not None:
            query = query.where(files.c.path > after)
        with self.reading() as session:
            return [bytes(path) for path in session.execute(query.order_by(files.c.path).limit(limit)).scalars()]

    def mark_deleted(self, paths: list[tuple[str, bytes]], when: float,
                     folders: list[tuple[str, bytes]] = ()) -> int:
        """The sources are gone; their replicas stay. Pending copies of them can no longer be made.
        ``folders``: everything below each of these is gone too (a folder moved away or removed).
        A few statements per 500 paths, not one per path: churn deletes thousands at a time.
        Returns how many current files were marked."""
        files = FileRow.__table__
        with self.session() as session:
            conn = session.connection()
            ids = [row[0] for row in _file_rows(conn, self.node, paths).values() if row[4] is None]
            for watch, folder in folders:
                ids += conn.execute(select(files.c.id).where(files.c.node == self.node, files.c.watch == watch,
                                                             files.c.deleted_at.is_(None),
                                                             _below(files, folder))).scalars().all()
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                conn.execute(update(files).where(files.c.id.in_(chunk)).values(deleted_at=when))
                _supersede_open(conn, chunk)
            return len(ids)


def _below(files, prefix: bytes):
    """Paths inside the folder ``prefix``: from "prefix/" up to, not including, "prefix0" ("/" + 1)."""
    return (files.c.path >= prefix + b"/") & (files.c.path < prefix + b"0")


def _file_rows(conn, node: str, keys: list[tuple[str, bytes]]) -> dict[tuple[str, bytes], tuple]:
    """(watch, path) → (id, current_version, size, mtime_ns, deleted_at, inode) of ``node``'s files, a chunk
    at a time."""
    files = FileRow.__table__
    found = {}
    by_watch: dict[str, list[bytes]] = {}
    for watch, path in keys:
        by_watch.setdefault(watch, []).append(path)
    for watch, paths in by_watch.items():
        for start in range(0, len(paths), CHUNK):
            rows = conn.execute(select(files.c.path, files.c.id, files.c.current_version, files.c.size,
                                       files.c.mtime_ns, files.c.deleted_at, files.c.inode)
                                .where(files.c.node == node, files.c.watch == watch,
                                       files.c.path.in_(paths[start:start + CHUNK])))
            found.update({(watch, row[0]): tuple(row[1:]) for row in rows})
    return found


def _upsert_files(conn, node: str, changed: list[Observation], known: dict) -> dict[tuple[str, bytes], int]:
    files = FileRow.__table__
    ids = {key: row[0] for key, row in known.items()}
    new = [obs for obs in changed if (obs.watch, obs.path) not in known]
    if new:
        rows = conn.execute(insert(files).returning(files.c.id, sort_by_parameter_order=True), [
            {"node": node, "watch": o.watch, "path": o.path, "current_version": 1, "size": o.size, "mtime_ns": o.mtime_ns,
             "inode": o.inode} for o in new]).all()
        ids.update({(o.watch, o.path): row[0] for o, row in zip(new, rows)})
    old = [obs for obs in changed if (obs.watch, obs.path) in known]
    if old:
        old_ids = [ids[(o.watch, o.path)] for o in old]
        _supersede_open(conn, old_ids)
        conn.execute(update(files).where(files.c.id == bindparam("b_id")).values(
            current_version=files.c.current_version + 1, size=bindparam("b_size"),
            mtime_ns=bindparam("b_mtime"), inode=bindparam("b_inode"), deleted_at=None),
            [{"b_id": ids[(o.watch, o.path)], "b_size": o.size, "b_mtime": o.mtime_ns, "b_inode": o.inode}
             for o in old])
    return ids


def _insert_versions(conn, changed: list[Observation], file_ids: dict, known: dict) -> list[int]:
    versions = Version.__table__
    rows = conn.execute(insert(versions).returning(versions.c.id, sort_by_parameter_order=True), [
        {"file_id": file_ids[(o.watch, o.path)], "number": known[(o.watch, o.path)][1] + 1
         if (o.watch, o.path) in known else 1, "size": o.size, "mtime_ns": o.mtime_ns,
         "seen_at": o.seen_at, "completed_at": o.completed_at} for o in changed]).all()
    return [row[0] for row in rows]


def _supersede_open(conn, file_ids: list[int]) -> None:
    """Rows are locked in id order first (PostgreSQL), the order a batch of outcomes takes: no deadlocks."""
    replicas = Replica.__table__
    older = select(Version.__table__.c.id).where(Version.__table__.c.file_id.in_(file_ids)).scalar_subquery()
    open_ones = and_(replicas.c.version_id.in_(older), replicas.c.state.in_(ReplicaState.OPEN))
    if conn.dialect.name == "postgresql":
        conn.execute(select(replicas.c.id).where(open_ones).order_by(replicas.c.id).with_for_update())
    conn.execute(update(replicas).where(open_ones)
                 .values(state=ReplicaState.SUPERSEDED, last_error="replaced by a newer version"))


def _differs(row: tuple, obs: Observation) -> bool:
    _id, _number, size, mtime_ns, deleted_at, inode = row
    replaced = inode is not None and obs.inode is not None and inode != obs.inode
    return size != obs.size or mtime_ns != obs.mtime_ns or replaced or deleted_at is not None
