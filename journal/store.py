"""The Journal: every read and write of the shared state goes through here, in short transactions."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import and_, bindparam, case, create_engine, event, func, insert, literal, or_, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from journal import migrate
from journal.models import FileRow, Heartbeat, Replica, ReplicaState, ScrubRun, Skip, TargetRow, Version
from journal.records import Job, Observation, Outcome, SkipRecord, TargetCounts


class JournalError(Exception):
    """The journal could not be read or written (disk full, database down, ...)."""


def make_engine(url: str, writer: bool = True) -> Engine:
    """SQLite gets WAL and synchronous=FULL: a replica marked verified must survive a power cut.

    A writer engine begins IMMEDIATE (the write lock up front: no lock-upgrade deadlocks); a reader
    engine begins DEFERRED, so reads never wait for writers in WAL mode.
    """
    if url.startswith("sqlite"):
        _ensure_folder(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=8, max_overflow=8)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


class Journal:
    """Durable record of file versions and replicas. Thread-safe: each call uses its own session."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.reader = make_engine(url, writer=False) if url.startswith("sqlite") else self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False)
        # SQLite has one writer at a time and makes waiters sleep in steps of up to 100 ms; queueing
        # our own threads on a lock instead hands the journal over the moment it is free.
        self._write_lock = threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext()

    # -- plumbing -----------------------------------------------------------------------------

    def migrate(self) -> None:
        with self._errors("migrate"):
            migrate.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short write transaction."""
        with self._errors("write"), self._write_lock, self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot that never blocks writers, nor waits for them."""
        with self._errors("read"), self._read_sessions.begin() as session:
            yield session

    @contextmanager
    def _errors(self, what: str):
        try:
            yield
        except SQLAlchemyError as exc:
            raise JournalError(f"journal {what} failed: {_short(exc)}") from exc

    def ping(self) -> None:
        """Raise JournalError unless the journal takes a real write (a full disk refuses it)."""
        with self.session() as session:
            session.merge(Heartbeat(id=1, beat_at=time.time()))

    # -- targets ------------------------------------------------------------------------------

    def target_marker(self, name: str) -> str | None:
        with self.reading() as session:
            row = session.get(TargetRow, name)
            return row.marker_id if row else None

    def target_met_at(self, name: str) -> float | None:
        """When this journal first recorded the target (compare with the marker's own creation time)."""
        with self.reading() as session:
            row = session.get(TargetRow, name)
            return row.initialised_at if row else None

    def record_target(self, name: str, marker_id: str) -> None:
        with self.session() as session:
            session.merge(TargetRow(name=name, marker_id=marker_id, initialised_at=time.time()))

    # -- ingest -------------------------------------------------------------------------------

    def known_states(self, watch: str, paths: list[bytes]) -> dict[bytes, tuple[int, int, int | None]]:
        """path → (size, mtime_ns, inode) for a batch of paths: the scan's memory stays flat at a million."""
        with self.reading() as session:
            rows = session.execute(select(FileRow.path, FileRow.size, FileRow.mtime_ns, FileRow.inode,
                                          FileRow.deleted_at)
                                   .where(FileRow.watch == watch, FileRow.path.in_(paths)))
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
            known = self._file_rows(conn, list(latest))
            changed = [obs for key, obs in latest.items() if key not in known or _differs(known[key], obs)]
            if not changed:
                return []
            file_ids = self._upsert_files(conn, changed, known)
            version_ids = self._insert_versions(conn, changed, file_ids, known)
            conn.execute(insert(Replica.__table__), [
                {"version_id": vid, "target": t, "state": ReplicaState.PENDING, "attempts": 0,
                 "next_attempt_at": 0.0, "created_at": obs.completed_at}
                for obs, vid in zip(changed, version_ids) for t in targets])
            return changed

    @staticmethod
    def _file_rows(conn, keys: list[tuple[str, bytes]]) -> dict[tuple[str, bytes], tuple]:
        """(watch, path) → (id, current_version, size, mtime_ns, deleted_at, inode), a chunk at a time."""
        files = FileRow.__table__
        found = {}
        by_watch: dict[str, list[bytes]] = {}
        for watch, path in keys:
            by_watch.setdefault(watch, []).append(path)
        for watch, paths in by_watch.items():
            for start in range(0, len(paths), 500):
                rows = conn.execute(select(files.c.path, files.c.id, files.c.current_version, files.c.size,
                                           files.c.mtime_ns, files.c.deleted_at, files.c.inode)
                                    .where(files.c.watch == watch, files.c.path.in_(paths[start:start + 500])))
                found.update({(watch, row[0]): tuple(row[1:]) for row in rows})
        return found

    def _upsert_files(self, conn, changed: list[Observation], known: dict) -> dict[tuple[str, bytes], int]:
        files = FileRow.__table__
        ids = {key: row[0] for key, row in known.items()}
        new = [obs for obs in changed if (obs.watch, obs.path) not in known]
        if new:
            rows = conn.execute(insert(files).returning(files.c.id, sort_by_parameter_order=True), [
                {"watch": o.watch, "path": o.path, "current_version": 1, "size": o.size, "mtime_ns": o.mtime_ns,
                 "inode": o.inode} for o in new]).all()
            ids.update({(o.watch, o.path): row[0] for o, row in zip(new, rows)})
        old = [obs for obs in changed if (obs.watch, obs.path) in known]
        if old:
            old_ids = [ids[(o.watch, o.path)] for o in old]
            self._supersede_open(conn, old_ids)
            conn.execute(update(files).where(files.c.id == bindparam("b_id")).values(
                current_version=files.c.current_version + 1, size=bindparam("b_size"),
                mtime_ns=bindparam("b_mtime"), inode=bindparam("b_inode"), deleted_at=None),
                [{"b_id": ids[(o.watch, o.path)], "b_size": o.size, "b_mtime": o.mtime_ns, "b_inode": o.inode}
                 for o in old])
        return ids

    @staticmethod
    def _insert_versions(conn, changed: list[Observation], file_ids: dict, known: dict) -> list[int]:
        versions = Version.__table__
        rows = conn.execute(insert(versions).returning(versions.c.id, sort_by_parameter_order=True), [
            {"file_id": file_ids[(o.watch, o.path)], "number": known[(o.watch, o.path)][1] + 1
             if (o.watch, o.path) in known else 1, "size": o.size, "mtime_ns": o.mtime_ns,
             "seen_at": o.seen_at, "completed_at": o.completed_at} for o in changed]).all()
        return [row[0] for row in rows]

    @staticmethod
    def _supersede_open(conn, file_ids: list[int]) -> None:
        replicas = Replica.__table__
        older = select(Version.__table__.c.id).where(Version.__table__.c.file_id.in_(file_ids)).scalar_subquery()
        conn.execute(update(replicas)
                     .where(replicas.c.version_id.in_(older), replicas.c.state.in_(ReplicaState.OPEN))
                     .values(state=ReplicaState.SUPERSEDED, last_error="replaced by a newer version"))

    def record_skips(self, skips: Iterable[SkipRecord]) -> None:
        with self.session() as session:
            for skip in skips:
                row = session.execute(select(Skip).where(Skip.watch == skip.watch, Skip.path == skip.path)
                                      ).scalar_one_or_none()
                if row is None:
                    session.add(Skip(watch=skip.watch, path=skip.path, reason=skip.reason,
                                     detail=skip.detail, seen_at=skip.seen_at))
                else:
                    row.reason, row.detail, row.seen_at = skip.reason, skip.detail, skip.seen_at

    def mark_deleted(self, paths: list[tuple[str, bytes]], when: float) -> None:
        """The sources are gone; their replicas stay. Pending copies of them can no longer be made."""
        with self.session() as session:
            files = FileRow.__table__
            ids = []
            for watch, path in paths:
                ids += session.execute(select(files.c.id).where(files.c.watch == watch, files.c.path == path,
                                                                files.c.deleted_at.is_(None))).scalars().all()
            if ids:
                session.execute(update(files).where(files.c.id.in_(ids)).values(deleted_at=when))
                self._supersede_open(session.connection(), ids)

    # -- replication --------------------------------------------------------------------------

    def backfill(self, target: str, now: float | None = None) -> int:
        """Give ``target`` a pending replica of every current file it lacks (a target added later)."""
        now = time.time() if now is None else now
        missing = (select(Version.id, literal(target), literal(ReplicaState.PENDING), literal(0), literal(0.0),
                          literal(now))
                   .join(FileRow, and_(FileRow.id == Version.file_id, FileRow.current_version == Version.number))
                   .where(FileRow.deleted_at.is_(None),
                          ~select(Replica.id).where(Replica.version_id == Version.id,
                                                    Replica.target == target).exists()))
        with self.session() as session:
            added = session.execute(insert(Replica).from_select(
                ["version_id", "target", "state", "attempts", "next_attempt_at", "created_at"], missing)
                .returning(Replica.id))
            return len(added.all())

    def release_claims(self, target: str, keep: Iterable[int]) -> int:
        """Claims this process no longer holds go back to pending: after a commit whose outcome the
        database reported as failed (it may have been written anyway, e.g. an fsync EIO)."""
        keep = list(keep)
        with self.session() as session:
            query = update(Replica).where(Replica.target == target, Replica.state == ReplicaState.COPYING)
            if keep:
                query = query.where(Replica.id.not_in(keep))
            return session.execute(query.values(state=ReplicaState.PENDING)).rowcount or 0

    def reset_copying(self) -> int:
        """After a crash: copies that were in flight start again from pending."""
        with self.session() as session:
            result = session.execute(update(Replica).where(Replica.state == ReplicaState.COPYING)
                                     .values(state=ReplicaState.PENDING))
            return result.rowcount or 0

    def claim(self, target: str, limit: int, now: float | None = None) -> list[Job]:
        """Take up to ``limit`` due replicas of ``target`` and mark them copying."""
        now = time.time() if now is None else now
        with self.session() as session:
            return self._claim_in(session, target, limit, now)

    def _claim_in(self, session: Session, target: str, limit: int, now: float) -> list[Job]:
        if limit <= 0:
            return []
        ids = session.execute(
            select(Replica.id)
            .where(Replica.target == target,
                   Replica.state.in_((ReplicaState.PENDING, ReplicaState.FAILED)),
                   Replica.next_attempt_at <= now)
            .order_by(Replica.next_attempt_at, Replica.id).limit(limit)).scalars().all()
        if not ids:
            return []
        session.execute(update(Replica).where(Replica.id.in_(ids))
                        .values(state=ReplicaState.COPYING).execution_options(synchronize_session=False))
        return self._jobs(session, target, ids)

    def _jobs(self, session: Session, target: str, ids: list[int]) -> list[Job]:
        rows = session.execute(
            select(Replica.id, Replica.attempts, Version.id, Version.number, Version.size, Version.mtime_ns,
                   Version.sha256, Version.completed_at, FileRow.id, FileRow.watch, FileRow.path)
            .join(Version, Version.id == Replica.version_id).join(FileRow, FileRow.id == Version.file_id)
            .where(Replica.id.in_(ids)).order_by(Replica.next_attempt_at, Replica.id)).all()
        previous = self._previous_verified(session, target, [(r[8], r[3]) for r in rows if r[3] > 1])
        return [Job(replica_id=r[0], attempts=r[1], version_id=r[2], number=r[3], size=r[4], mtime_ns=r[5],
                    sha256=r[6], completed_at=r[7], watch=r[9], path=r[10], target=target,
                    previous_number=previous.get(r[8])) for r in rows]

    @staticmethod
    def _previous_verified(session: Session, target: str, files: list[tuple[int, int]]) -> dict[int, int]:
        """file id → newest verified version number below the one being copied."""
        if not files:
            return {}
        conditions = [and_(Version.file_id == fid, Version.number < number) for fid, number in files]
        rows = session.execute(
            select(Version.file_id, func.max(Version.number))
            .join(Replica, Replica.version_id == Version.id)
            .where(Replica.target == target, Replica.state == ReplicaState.VERIFIED)
            .where(or_(*conditions))
            .group_by(Version.file_id)).all()
        return {fid: number for fid, number in rows}

    def finish(self, outcomes: Iterable[Outcome], now: float | None = None,
               claim: tuple[str, int] | None = None) -> list[Job]:
        """Write what the workers did, all in one short transaction of a few executemany statements,
        and (``claim=(target, limit)``) take the next jobs in the same transaction: one commit per batch.

        A replica superseded meanwhile (a newer version arrived, the source was deleted) stays so.
        """
        now = time.time() if now is None else now
        outcomes = list(outcomes)
        with self.session() as session:
            self._finish_in(session, outcomes, now)
            return self._claim_in(session, *claim, now) if claim else []

    def _finish_in(self, session: Session, outcomes: list[Outcome], now: float) -> None:
        replicas, versions = Replica.__table__, Version.__table__
        rows = [self._finish_values(outcome, now) for outcome in outcomes]
        if not rows:
            return
        verified = [o for o in outcomes if o.state == ReplicaState.VERIFIED]
        conn = session.connection()
        conn.execute(update(replicas).where(replicas.c.id == bindparam("b_id"),
                                            replicas.c.state != ReplicaState.SUPERSEDED).values(
            state=bindparam("b_state"), last_error=bindparam("b_error"), verified_at=bindparam("b_verified"),
            next_attempt_at=bindparam("b_due"), attempts=replicas.c.attempts + bindparam("b_tries")), rows)
        if verified:
            conn.execute(update(versions).where(versions.c.id == bindparam("b_id"), versions.c.sha256.is_(None))
                         .values(sha256=bindparam("b_sha")),
                         [{"b_id": o.job.version_id, "b_sha": o.sha256} for o in verified])

    @staticmethod
    def _finish_values(outcome: Outcome, now: float) -> dict:
        """The due time is the outcome's: replication's retry policy chose it, the journal stores it."""
        due = now if outcome.next_attempt_at is None else outcome.next_attempt_at
        values = {"b_id": outcome.job.replica_id, "b_error": outcome.error, "b_verified": None, "b_tries": 1,
                  "b_due": due}
        if outcome.state == ReplicaState.VERIFIED:
            values.update(b_state=ReplicaState.VERIFIED, b_verified=now)
        elif outcome.state == ReplicaState.FAILED:
            values.update(b_state=ReplicaState.FAILED)
        else:  # DOWN or CHANGED: not the copy's fault, no attempt counted; pending again when due
            values.update(b_state=ReplicaState.PENDING, b_tries=0)
        return values

    def expedite(self, target: str, now: float | None = None) -> int:
        """A target that works again: everything waiting out a backoff on it is due now."""
        now = time.time() if now is None else now
        with self.session() as session:
            result = session.execute(update(Replica).where(
                Replica.target == target, Replica.state == ReplicaState.FAILED, Replica.next_attempt_at > now)
                .values(next_attempt_at=now))
            return result.rowcount or 0

    def next_due(self, target: str) -> float | None:
        """When the earliest waiting replica of ``target`` becomes due (None: nothing waits)."""
        with self.reading() as session:
            return session.execute(select(func.min(Replica.next_attempt_at)).where(
                Replica.target == target,
                Replica.state.in_((ReplicaState.PENDING, ReplicaState.FAILED)))).scalar()

    def verified_replicas(self, target: str) -> Iterator[tuple[str, bytes, int, str, int, int, bool]]:
        """(watch, path, version, sha256, size, mtime_ns, deleted on the primary) of the newest verified
        version of every file on ``target``: what its data area must hold. Streamed."""
        query = (select(FileRow.id, FileRow.watch, FileRow.path, Version.number, Version.sha256, Version.size,
                        Version.mtime_ns, FileRow.deleted_at.is_not(None))
                 .join(Version, Version.file_id == FileRow.id).join(Replica, Replica.version_id == Version.id)
                 .where(Replica.target == target, Replica.state == ReplicaState.VERIFIED)
                 .order_by(FileRow.id, Version.number))
        with self._errors("read"), self.reader.connect() as conn:
            last = None
            for row in conn.execution_options(yield_per=2000).execute(query):
                if last is not None and last[0] != row[0]:
                    yield tuple(last[1:])
                last = row
            if last is not None:
                yield tuple(last[1:])

    def requeue(self, target: str, watch: str, path: bytes, number: int, error: str) -> bool:
        """Verification found this replica missing or corrupt: copy it again if its source still matches."""
        with self.session() as session:
            replica = session.execute(
                select(Replica).join(Version, Version.id == Replica.version_id)
                .join(FileRow, FileRow.id == Version.file_id)
                .where(Replica.target == target, FileRow.watch == watch, FileRow.path == path,
                       Version.number == number)).scalar_one_or_none()
            if replica is None:
                return False
            replica.state, replica.last_error, replica.next_attempt_at = ReplicaState.PENDING, error, 0.0
            return True

    def intake(self, since: float | None, until: float | None) -> Iterator[tuple[str, bytes, int, int, float, bool]]:
        """(watch, path, version number, size, completed_at, verified on every target) per version."""
        verified = func.sum(case((Replica.state == ReplicaState.VERIFIED, 1), else_=0))
        query = (select(FileRow.watch, FileRow.path, Version.number, Version.size, Version.completed_at,
                        verified == func.count(Replica.id))
                 .join(Version, Version.file_id == FileRow.id).join(Replica, Replica.version_id == Version.id)
                 .group_by(Version.id, FileRow.watch, FileRow.path, Version.number, Version.size,
                           Version.completed_at)
                 .order_by(Version.completed_at))
        if since is not None:
            query = query.where(Version.completed_at >= since)
        if until is not None:
            query = query.where(Version.completed_at < until)
        with self._errors("read"), self.reader.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(query):
                yield tuple(row)

    def record_scrub(self, run: ScrubRun) -> None:
        with self.session() as session:
            session.add(run)

    def last_scrub(self, target: str) -> ScrubRun | None:
        with self.reading() as session:
            return session.execute(select(ScrubRun).where(ScrubRun.target == target)
                                   .order_by(ScrubRun.finished_at.desc()).limit(1)).scalar_one_or_none()

    # -- reporting ----------------------------------------------------------------------------

    def target_counts(self, target: str, include_verified: bool = True) -> TargetCounts:
        """Open counts use the (target, state) index, so they cost the backlog, not the journal."""
        with self.reading() as session:
            def count(*states: str) -> int:
                return session.execute(select(func.count()).select_from(Replica).where(
                    Replica.target == target, Replica.state.in_(states))).scalar() or 0

            oldest = session.execute(select(func.min(Replica.created_at)).where(
                Replica.target == target, Replica.state.in_(ReplicaState.OPEN))).scalar()
            return TargetCounts(
                verified=count(ReplicaState.VERIFIED) if include_verified else -1,
                pending=count(ReplicaState.PENDING, ReplicaState.COPYING),
                failed=count(ReplicaState.FAILED),
                oldest_pending_at=oldest)

    def totals(self) -> tuple[int, int]:
        """(files, bytes) of the newest version of every file that still exists on the primary."""
        with self.reading() as session:
            files, size = session.execute(select(func.count(), func.coalesce(func.sum(FileRow.size), 0))
                                          .where(FileRow.deleted_at.is_(None))).one()
            return int(files), int(size)

    def skip_counts(self) -> dict[str, int]:
        with self.reading() as session:
            return dict(session.execute(select(Skip.reason, func.count()).group_by(Skip.reason)).all())


def _ensure_folder(url: str) -> None:
    """A fresh checkout has no var/ yet: the journal's folder is created, the file by SQLite."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)


def _differs(row: tuple, obs: Observation) -> bool:
    _id, _number, size, mtime_ns, deleted_at, inode = row
    replaced = inode is not None and obs.inode is not None and inode != obs.inode
    return size != obs.size or mtime_ns != obs.mtime_ns or replaced or deleted_at is not None


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:300]
