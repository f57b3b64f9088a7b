"""The replica queue: due replicas claimed per target, outcomes written back, claims given back.

When a replica is tried again is replication's decision (its retry policy): the journal only stores
the ``next_attempt_at`` an outcome carries. A claim carries its holder (the boot id of the process
that copies it, ``None`` for an anonymous caller): only the holder writes its outcome or gives it back,
and a start-up resets only the claims of its own node's earlier runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.engine import Connection

from journal.bulk import update_by_id
from journal.engine import Database
from journal.ingest import CHUNK
from journal.models import FileRow, NodeRow, Replica, Version
from journal.records import Job, Outcome, ReplicaState, Twin


# A replicator's round (outcomes written, the next jobs claimed) in statements built once: see ingest.py.
_files, _versions, _replicas = FileRow.__table__, Version.__table__, Replica.__table__


def _due_ids(horizon: bool):
    """The due replicas of one state, in the order of the (target, state, due) index (the id is its
    tie-break: the rowid, the index's last key), so the database reads as far as the limit and sorts
    nothing. Over both waiting states at once it read and sorted every one of them for each claim
    (5.5 ms a claim with 10,000 pending)."""
    due = _replicas.c.next_attempt_at <= bindparam("now")
    if horizon:  # a due time further ahead than the horizon is due now (the clock was stepped back)
        due = or_(due, _replicas.c.next_attempt_at > bindparam("later"))
    return (select(_replicas.c.next_attempt_at, _replicas.c.id)
            .join(_versions, _versions.c.id == _replicas.c.version_id)
            .join(_files, _files.c.id == _versions.c.file_id)
            .where(_replicas.c.target == bindparam("target"), _replicas.c.state == bindparam("state"), due,
                   _files.c.node == bindparam("node"))
            .order_by(_replicas.c.next_attempt_at, _replicas.c.id).limit(bindparam("limit"))
            .with_for_update(skip_locked=True, of=_replicas))


_DUE_IDS = {False: _due_ids(False), True: _due_ids(True)}
_WAITING_STATES = (ReplicaState.PENDING, ReplicaState.FAILED)
_MARK_COPYING = update(_replicas).where(_replicas.c.id.in_(bindparam("ids", expanding=True))).values(
    state=ReplicaState.COPYING, claimed_by=bindparam("holder"))
_JOB_ROWS = (select(_replicas.c.id, _replicas.c.attempts, _versions.c.id, _versions.c.number, _versions.c.size,
                    _versions.c.mtime_ns, _versions.c.sha256, _versions.c.completed_at, _files.c.id, _files.c.watch,
                    _files.c.path, _files.c.inode)
             .join(_versions, _versions.c.id == _replicas.c.version_id).join(_files, _files.c.id == _versions.c.file_id)
             .where(_replicas.c.id.in_(bindparam("ids", expanding=True)))
             .order_by(_replicas.c.next_attempt_at, _replicas.c.id))
_VERIFIED_VERSIONS = (select(_versions.c.file_id, _versions.c.number)
                      .join(_replicas, _replicas.c.version_id == _versions.c.id)
                      .where(_replicas.c.target == bindparam("target"), _replicas.c.state == ReplicaState.VERIFIED,
                             _versions.c.file_id.in_(bindparam("file_ids", expanding=True))))
_TWINS = (select(_files.c.watch, _files.c.inode, _versions.c.size, _versions.c.mtime_ns, _files.c.path,
                 _versions.c.sha256)
          .join(_versions, and_(_versions.c.file_id == _files.c.id, _versions.c.number == _files.c.current_version))
          .join(_replicas, and_(_replicas.c.version_id == _versions.c.id, _replicas.c.target == bindparam("target"),
                                _replicas.c.state == ReplicaState.VERIFIED))
          .where(_files.c.node == bindparam("node"), _files.c.watch.in_(bindparam("watches", expanding=True)),
                 _files.c.inode.in_(bindparam("inodes", expanding=True)), _versions.c.sha256.is_not(None)))
_LOCK_REPLICAS = (select(_replicas.c.id).where(_replicas.c.id.in_(bindparam("ids", expanding=True)))
                  .order_by(_replicas.c.id).with_for_update())
_NOT_SUPERSEDED = _replicas.c.state != ReplicaState.SUPERSEDED


class ReplicaQueue(Database):
    def backfill(self, target: str, now: float | None = None) -> int:
        """Give ``target`` a pending replica of every current file it lacks (a target added later)."""
        now = time.time() if now is None else now
        missing = (select(Version.id, literal(target), literal(ReplicaState.PENDING), literal(0), literal(0.0),
                          literal(now))
                   .join(FileRow, and_(FileRow.id == Version.file_id, FileRow.current_version == Version.number))
                   .where(FileRow.node == self.node, FileRow.deleted_at.is_(None),
                          ~select(Replica.id).where(Replica.version_id == Version.id,
                                                    Replica.target == target).exists()))
        with self.session() as session:
            added = session.execute(insert(Replica).from_select(
                ["version_id", "target", "state", "attempts", "next_attempt_at", "created_at"], missing)
                .returning(Replica.id))
            return len(added.all())

    def release_claims(self, target: str, keep: Iterable[int], holder: str | None = None) -> int:
        """Claims ``holder`` no longer holds go back to pending: after a commit whose outcome the
        database reported as failed (it may have been written anyway, e.g. an fsync EIO)."""
        keep = list(keep)
        with self.session() as session:
            query = update(Replica).where(Replica.target == target, Replica.state == ReplicaState.COPYING,
                                          Replica.claimed_by.is_not_distinct_from(holder), owned_by(self.node))
            if keep:
                query = query.where(Replica.id.not_in(keep))
            return session.execute(query.values(state=ReplicaState.PENDING, claimed_by=None)).rowcount or 0

    def reset_copying(self, node: str, holder: str) -> int:
        """At start, holding ``node``'s writer lock: copies its earlier runs left in flight start again
        from pending. A claim of the running boot, or of another node's current boot, is not touched."""
        others = select(NodeRow.boot_id).where(NodeRow.name != node)
        with self.session() as session:
            result = session.execute(update(Replica).where(
                Replica.state == ReplicaState.COPYING, owned_by(node),
                or_(Replica.claimed_by.is_(None),
                    and_(Replica.claimed_by != holder, Replica.claimed_by.not_in(others))))
                .values(state=ReplicaState.PENDING, claimed_by=None))
            return result.rowcount or 0

    def claim(self, target: str, limit: int, now: float | None = None, holder: str | None = None,
              horizon: float | None = None) -> list[Job]:
        """Take up to ``limit`` due replicas of ``target`` and mark them copying by ``holder``.

        ``horizon``: a due time further ahead than this is due now. Due times are wall-clock times
        (they survive a restart); after the clock was stepped back they would wait the whole step."""
        now = time.time() if now is None else now
        with self.writing() as conn:
            return _claim_in(conn, self.node, target, limit, now, holder, horizon)

    def finish(self, outcomes: Iterable[Outcome], now: float | None = None,
               claim: tuple[str, int] | None = None, holder: str | None = None,
               horizon: float | None = None) -> list[Job]:
        """Write what ``holder``'s workers did, all in one short transaction of a few executemany
        statements, and (``claim=(target, limit)``) take the next jobs in the same transaction: one
        commit per batch.

        A replica superseded meanwhile (a newer version arrived, the source was deleted) stays so, unless
        its copy was verified: then its bytes are on the target and in its manifest, and the journal
        must say so too (the next version keeps them aside instead of overwriting them). One claimed by
        someone else meanwhile is theirs to record.
        """
        now = time.time() if now is None else now
        outcomes = list(outcomes)
        with self.writing() as conn:
            _finish_in(conn, outcomes, now, holder)
            return _claim_in(conn, self.node, *claim, now, holder, horizon) if claim else []

    def expedite(self, target: str, now: float | None = None) -> int:
        """A target that works again: everything waiting out a backoff on it is due now."""
        now = time.time() if now is None else now
        with self.session() as session:
            result = session.execute(update(Replica).where(
                Replica.target == target, Replica.state == ReplicaState.FAILED, Replica.next_attempt_at > now,
                owned_by(self.node))
                .values(next_attempt_at=now))
            return result.rowcount or 0

    def next_due(self, target: str) -> float | None:
        """When the earliest waiting replica of ``target`` becomes due (None: nothing waits)."""
        with self.reading() as session:
            return session.execute(select(func.min(Replica.next_attempt_at)).where(
                Replica.target == target, Replica.state.in_((ReplicaState.PENDING, ReplicaState.FAILED)),
                owned_by(self.node))).scalar()

    def requeue(self, target: str, watch: str, path: bytes, number: int, error: str) -> bool:
        """Verification found this replica missing or corrupt: copy it again if its source still matches."""
        with self.session() as session:
            replica = session.execute(
                select(Replica).join(Version, Version.id == Replica.version_id)
                .join(FileRow, FileRow.id == Version.file_id)
                .where(Replica.target == target, FileRow.node == self.node, FileRow.watch == watch,
                       FileRow.path == path,
                       Version.number == number)).scalar_one_or_none()
            if replica is None:
                return False
            replica.state, replica.last_error, replica.next_attempt_at = ReplicaState.PENDING, error, 0.0
            return True


def owned_by(node: str):
    """Replicas of ``node``'s files: only the server that holds a file's source can copy it. Correlated
    (two primary-key lookups per replica looked at), so a count or an update costs the rows its other
    conditions pick through the (target, state) index, not every version the node ever had."""
    return (select(Version.id).join(FileRow, FileRow.id == Version.file_id)
            .where(Version.id == Replica.version_id, FileRow.node == node).correlate(Replica).exists())


def _claim_in(conn: Connection, node: str, target: str, limit: int, now: float, holder: str | None,
              horizon: float | None) -> list[Job]:
    """On PostgreSQL the rows are locked as they are picked and rows another transaction holds are passed
    over (``FOR UPDATE SKIP LOCKED``): two claimants never take the same replica, nor wait for each other.
    Each waiting state gives its earliest ``limit``; the earliest of both are taken (rows picked beyond
    that stay locked until the commit: another claimant passes over them this once)."""
    if limit <= 0:
        return []
    params = {"target": target, "node": node, "now": now, "later": now + (horizon or 0.0), "limit": limit}
    due = [row for state in _WAITING_STATES
           for row in conn.execute(_DUE_IDS[horizon is not None], dict(params, state=state)).all()]
    ids = [replica_id for _due, replica_id in sorted(due)[:limit]]
    if not ids:
        return []
    conn.execute(_MARK_COPYING, {"ids": ids, "holder": holder})
    return _jobs(conn, node, target, ids)


def _jobs(conn: Connection, node: str, target: str, ids: list[int]) -> list[Job]:
    rows = conn.execute(_JOB_ROWS, {"ids": ids}).all()
    previous = _previous_verified(conn, target, [(r[8], r[3]) for r in rows if r[3] > 1])
    twins = _twins(conn, node, target, [r for r in rows if r[3] == 1 and r[6] is None and r[11] is not None])
    return [Job(replica_id=r[0], attempts=r[1], version_id=r[2], number=r[3], size=r[4], mtime_ns=r[5],
                sha256=r[6], completed_at=r[7], watch=r[9], path=r[10], target=target,
                previous_number=previous.get(r[8]), twin=twins.get(r[0])) for r in rows]


def _twins(conn: Connection, node: str, target: str, rows: list) -> dict[int, Twin]:
    """replica id → a verified replica on ``target`` of another path's current version with the same
    inode, size and mtime: most likely the same bytes, moved (a folder renamed makes every file below it
    a new path). One query per claim, through the (node, watch, inode) index."""
    if not rows:
        return {}
    found: dict[tuple, list[tuple[bytes, str]]] = {}  # (watch, inode, size, mtime_ns) → [(path, sha256)]
    watches, inodes = sorted({r[9] for r in rows}), sorted({r[11] for r in rows})
    for start in range(0, len(inodes), CHUNK):
        for watch, inode, size, mtime_ns, path, sha256 in conn.execute(_TWINS, {
                "target": target, "node": node, "watches": watches, "inodes": inodes[start:start + CHUNK]}):
            found.setdefault((watch, inode, size, mtime_ns), []).append((bytes(path), sha256))
    twins = {}
    for r in rows:
        others = [(path, sha) for path, sha in found.get((r[9], r[11], r[4], r[5]), []) if path != bytes(r[10])]
        if others:
            twins[r[0]] = Twin(*others[0])
    return twins


def _previous_verified(conn: Connection, target: str, files: list[tuple[int, int]]) -> dict[int, int]:
    """file id → newest verified version number below the one being copied."""
    if not files:
        return {}
    below: dict[int, int] = {}
    for fid, number in files:
        below[fid] = max(number, below.get(fid, 0))
    previous: dict[int, int] = {}
    ids = sorted(below)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for fid, number in conn.execute(_VERIFIED_VERSIONS, {"target": target, "file_ids": chunk}):
            if number < below[fid] and number > previous.get(fid, 0):
                previous[fid] = number
    return previous


def _finish_in(conn: Connection, outcomes: list[Outcome], now: float, holder: str | None) -> None:
    """A statement per kind of outcome (verified, failed, pending again), not one per replica (see
    journal/bulk.py). On PostgreSQL the rows are locked in id order first: no deadlocks."""
    groups: dict[tuple, dict[int, dict]] = {}
    for outcome in outcomes:
        state, tries, values = _finish_values(outcome, now)
        groups.setdefault((state, tries), {})[outcome.job.replica_id] = values
    if not groups:
        return
    if conn.dialect.name == "postgresql" and len(groups) > 1:
        conn.execute(_LOCK_REPLICAS, {"ids": sorted(o.job.replica_id for o in outcomes)})
    for (state, tries), rows in groups.items():
        kept = [] if state == ReplicaState.VERIFIED else [_NOT_SUPERSEDED]  # verified: on the target, say so
        update_by_id(conn, _replicas, rows, _replicas.c.claimed_by.is_not_distinct_from(holder), *kept,
                     state=state, attempts=_replicas.c.attempts + tries, claimed_by=None)
    verified = {o.job.version_id: {"sha256": o.sha256} for o in outcomes if o.state == ReplicaState.VERIFIED}
    if verified:
        update_by_id(conn, _versions, verified, _versions.c.sha256.is_(None))


def _finish_values(outcome: Outcome, now: float) -> tuple[str, int, dict]:
    """(new state, attempts to count, the row's values). The due time is the outcome's: replication's
    retry policy chose it, the journal stores it."""
    due = now if outcome.next_attempt_at is None else outcome.next_attempt_at
    values = {"last_error": outcome.error, "verified_at": None, "next_attempt_at": due}
    if outcome.state == ReplicaState.VERIFIED:
        return ReplicaState.VERIFIED, 1, dict(values, verified_at=now)
    if outcome.state == ReplicaState.FAILED:
        return ReplicaState.FAILED, 1, values
    return ReplicaState.PENDING, 0, values  # DOWN or CHANGED: not the copy's fault, no attempt counted
