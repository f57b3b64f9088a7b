"""What ingest records: new file versions (each with a pending replica per target), skips, deletions."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import and_, bindparam, insert, select, update

from journal.bulk import CHUNK, update_by_id  # CHUNK: values per IN (...)
from journal.engine import Database
from journal.models import FileRow, Replica, Skip, Version
from journal.records import Observation, ReplicaState, SkipRecord

# The hot path's statements, built once: an expanding IN takes a list of any length without a bound
# parameter object per value, and a statement reused keeps its cache key (building both per call was
# most of ingest's Python under churn, several times the cost of running the statement).
_files, _versions, _replicas = FileRow.__table__, Version.__table__, Replica.__table__
_OF_WATCH = and_(_files.c.node == bindparam("node"), _files.c.watch == bindparam("watch"))
_FILE_ROWS = select(_files.c.path, _files.c.id, _files.c.current_version, _files.c.size, _files.c.mtime_ns,
                    _files.c.deleted_at, _files.c.inode).where(
    _OF_WATCH, _files.c.path.in_(bindparam("paths", expanding=True)))
_CURRENT_BELOW = select(_files.c.id).where(_OF_WATCH, _files.c.deleted_at.is_(None),
                                           _files.c.path >= bindparam("first"), _files.c.path < bindparam("past"))
_MARK_DELETED = update(_files).where(_files.c.id.in_(bindparam("ids", expanding=True))).values(
    deleted_at=bindparam("when"))
# RETURNING in any order, each row named by its key: many rows per statement (SQLite cannot promise the
# parameters' order, and asking for it makes SQLAlchemy insert one row per statement; see bulk.py).
_INSERT_FILES = insert(_files).returning(_files.c.id, _files.c.watch, _files.c.path)
_INSERT_VERSIONS = insert(_versions).returning(_versions.c.id, _versions.c.file_id)
_INSERT_REPLICAS = insert(_replicas).returning(_replicas.c.id)  # RETURNING: many rows per statement
_OPEN_OF_FILES = and_(
    _replicas.c.version_id.in_(select(_versions.c.id).where(
        _versions.c.file_id.in_(bindparam("file_ids", expanding=True))).scalar_subquery()),
    _replicas.c.state.in_(ReplicaState.OPEN))
_LOCK_OPEN = select(_replicas.c.id).where(_OPEN_OF_FILES).order_by(_replicas.c.id).with_for_update()
_SUPERSEDE = update(_replicas).where(_OPEN_OF_FILES).values(state=ReplicaState.SUPERSEDED,
                                                            last_error="replaced by a newer version")


class IngestRecords(Database):
    def known_states(self, watch: str, paths: list[bytes]) -> dict[bytes, tuple[int, int, int | None]]:
        """path → (size, mtime_ns, inode) for a batch of paths: the scan's memory stays flat at a million."""
        with self.read_conn() as conn:
            rows = _file_rows(conn, self.node, [(watch, path) for path in paths])
        return {path: (size, mtime, inode) for (_watch, path), (_id, _number, size, mtime, deleted, inode)
                in rows.items() if deleted is None}

    def record_versions(self, observations: Iterable[Observation], targets: list[str]) -> list[Observation]:
        """Record each observation as a new version unless the newest version already matches.

        Replicas still open for older versions of the same file are superseded: their bytes are gone.
        Returns the observations that became new versions. A whole batch costs a few statements, not a
        few per file: this is the hot path of a burst.
        """
        return self.record_batch(observations, targets)

    def record_batch(self, observations: Iterable[Observation], targets: list[str],
                     deleted: list[tuple[str, bytes]] = (), folders: list[tuple[str, bytes]] = (),
                     when: float | None = None) -> list[Observation]:
        """One ingest batch in one transaction: the deletions it saw (as ``mark_deleted``, at ``when``,
        default now), then its new versions (as ``record_versions``, whose result it returns). One
        commit and one turn of the write lock per batch instead of one per kind: under churn nearly
        every batch has both."""
        latest = {(obs.watch, obs.path): obs for obs in observations}
        if not (latest or deleted or folders):
            return []
        with self.writing() as conn:
            if deleted or folders:
                _mark_deleted(conn, self.node, deleted, time.time() if when is None else when, folders)
            return _record_versions(conn, self.node, latest, targets)

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
        with self.writing() as conn:
            return _mark_deleted(conn, self.node, paths, when, folders)


def _record_versions(conn, node: str, latest: dict[tuple[str, bytes], Observation],
                     targets: list[str]) -> list[Observation]:
    if not latest:
        return []
    known = _file_rows(conn, node, list(latest))
    changed = [obs for key, obs in latest.items() if key not in known or _differs(known[key], obs)]
    if not changed:
        return []
    file_ids = _upsert_files(conn, node, changed, known)
    version_ids = _insert_versions(conn, changed, file_ids, known)
    conn.execute(_INSERT_REPLICAS, [
        {"version_id": vid, "target": t, "state": ReplicaState.PENDING, "attempts": 0,
         "next_attempt_at": 0.0, "created_at": obs.completed_at}
        for obs, vid in zip(changed, version_ids) for t in targets])
    return changed


def _mark_deleted(conn, node: str, paths: list[tuple[str, bytes]], when: float,
                  folders: list[tuple[str, bytes]]) -> int:
    ids = [row[0] for row in _file_rows(conn, node, paths).values() if row[4] is None]
    for watch, folder in folders:
        first, past = _subtree(folder)
        ids += conn.execute(_CURRENT_BELOW, {"node": node, "watch": watch, "first": first,
                                             "past": past}).scalars().all()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        conn.execute(_MARK_DELETED, {"ids": chunk, "when": when})
        _supersede_open(conn, chunk)
    return len(ids)


def _subtree(prefix: bytes) -> tuple[bytes, bytes]:
    """Paths inside the folder ``prefix`` sort from "prefix/" up to, not including, "prefix0" ("/" + 1)."""
    return prefix + b"/", prefix + b"0"


def _below(files, prefix: bytes):
    first, past = _subtree(prefix)
    return (files.c.path >= first) & (files.c.path < past)


def _file_rows(conn, node: str, keys: list[tuple[str, bytes]]) -> dict[tuple[str, bytes], tuple]:
    """(watch, path) → (id, current_version, size, mtime_ns, deleted_at, inode) of ``node``'s files, a chunk
    at a time."""
    found = {}
    by_watch: dict[str, list[bytes]] = {}
    for watch, path in keys:
        by_watch.setdefault(watch, []).append(path)
    for watch, paths in by_watch.items():
        for start in range(0, len(paths), CHUNK):
            rows = conn.execute(_FILE_ROWS, {"node": node, "watch": watch, "paths": paths[start:start + CHUNK]})
            found.update({(watch, row[0]): tuple(row[1:]) for row in rows})
    return found


def _upsert_files(conn, node: str, changed: list[Observation], known: dict) -> dict[tuple[str, bytes], int]:
    ids = {key: row[0] for key, row in known.items()}
    new = [obs for obs in changed if (obs.watch, obs.path) not in known]
    if new:
        rows = conn.execute(_INSERT_FILES, [
            {"node": node, "watch": o.watch, "path": o.path, "current_version": 1, "size": o.size, "mtime_ns": o.mtime_ns,
             "inode": o.inode} for o in new]).all()
        ids.update({(watch, bytes(path)): file_id for file_id, watch, path in rows})
    old = [obs for obs in changed if (obs.watch, obs.path) in known]
    if old:
        _supersede_open(conn, [ids[(o.watch, o.path)] for o in old])
        update_by_id(conn, _files, {ids[(o.watch, o.path)]: {"size": o.size, "mtime_ns": o.mtime_ns, "inode": o.inode}
                                    for o in old}, current_version=_files.c.current_version + 1, deleted_at=None)
    return ids


def _insert_versions(conn, changed: list[Observation], file_ids: dict, known: dict) -> list[int]:
    """The new versions' ids in ``changed``'s order (one new version per file in a batch)."""
    rows = conn.execute(_INSERT_VERSIONS, [
        {"file_id": file_ids[(o.watch, o.path)], "number": known[(o.watch, o.path)][1] + 1
         if (o.watch, o.path) in known else 1, "size": o.size, "mtime_ns": o.mtime_ns,
         "seen_at": o.seen_at, "completed_at": o.completed_at} for o in changed]).all()
    by_file = {file_id: version_id for version_id, file_id in rows}
    return [by_file[file_ids[(o.watch, o.path)]] for o in changed]


def _supersede_open(conn, file_ids: list[int]) -> None:
    """Rows are locked in id order first (PostgreSQL), the order a batch of outcomes takes: no deadlocks."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_OPEN, {"file_ids": file_ids})
    conn.execute(_SUPERSEDE, {"file_ids": file_ids})


def _differs(row: tuple, obs: Observation) -> bool:
    _id, _number, size, mtime_ns, deleted_at, inode = row
    replaced = inode is not None and obs.inode is not None and inode != obs.inode
    return size != obs.size or mtime_ns != obs.mtime_ns or replaced or deleted_at is not None
