"""One writer per node: a lock held for as long as a process writes, and who holds it when it is refused.

SQLite: ``flock`` on a file beside the journal (``journal.db.lock``) that holds one line saying who
has it. PostgreSQL: a session-level advisory lock keyed by the node name, on a connection of its own
whose ``application_name`` says who holds it; a refused process reads the holder from
``pg_stat_activity`` (set before the lock is taken, so it is never missing). Either lock dies with its
process: a SIGKILLed daemon leaves nothing to clean up by hand.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from dataclasses import asdict

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from journal.engine import _short
from journal.errors import JournalBusy, JournalError
from journal.records import Incarnation

HOLDER_WAIT = 1.0   # seconds a refused process waits for a holder that has the lock but not yet said who


class WriterLock:
    """No lock at all: an in-memory journal belongs to its process anyway."""

    where = "(in memory)"

    def acquire(self, me: Incarnation) -> None:
        pass

    def held(self) -> bool:
        """Still ours? Only a lock on a connection can be lost without its process dying."""
        return True

    def release(self) -> None:
        pass


class FileLock(WriterLock):
    def __init__(self, path: str):
        self.path = path
        self.where = path[:-len(".lock")]
        self._fd: int | None = None

    def acquire(self, me: Incarnation) -> None:
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot open the writer lock {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _file_holder(fd)
            os.close(fd)
            raise JournalBusy(self.where, holder) from None
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"cannot lock {self.path}: {exc.strerror}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode() + b"\n", 0)
        self._fd = fd

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # an empty file: nobody holds it (a crash leaves the last holder)
            os.close(self._fd)
            self._fd = None


def _file_holder(fd: int) -> str | None:
    """Who the lock file says holds it; the holder writes that right after taking the lock."""
    deadline = time.monotonic() + HOLDER_WAIT
    while True:
        try:
            return Incarnation(**json.loads(os.pread(fd, 4096, 0))).describe()
        except (ValueError, TypeError, OSError):
            if time.monotonic() >= deadline:
                return None
            threading.Event().wait(0.05)  # not time.sleep: libfaketime's shim can fail it (EINVAL)


class AdvisoryLock(WriterLock):
    def __init__(self, url: str, node: str):
        self.url = url
        self.where = f"{make_url(url).render_as_string(hide_password=True)} (node {node})"
        self.key = advisory_key(node)
        self._me: Incarnation | None = None
        self._conn: Connection | None = None

    def acquire(self, me: Incarnation) -> None:
        try:
            conn = _connect(self.url, f"jaga {me.command} (pid {me.pid} on {me.host})")
            try:
                if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar():
                    raise JournalBusy(self.where, _session_holder(conn, self.key))
            except BaseException:
                conn.close()
                raise
        except SQLAlchemyError as exc:
            raise JournalError(f"cannot take the writer lock on {self.where}: {_short(exc)}") from exc
        self._me, self._conn = me, conn

    def held(self) -> bool:
        """Asks the server: the lock lives as long as its connection (a failover or a restart ends it)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            self._drop()
            return False

    def retake(self) -> None:
        """After the connection was lost: take the lock again, or raise JournalBusy if another has it."""
        self.acquire(self._me)

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except SQLAlchemyError:
                pass  # closing the connection releases it as well
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        try:
            conn.close()
        except SQLAlchemyError:
            pass


def advisory_key(node: str) -> int:
    """A stable positive 63-bit key per node name (advisory locks are one bigint namespace)."""
    return int.from_bytes(hashlib.sha256(b"jaga writer " + node.encode()).digest()[:8], "big") >> 1


def _connect(url: str, name: str) -> Connection:
    """A connection outside the pool, with keepalives, so a dead server is noticed within seconds."""
    engine = create_engine(url, poolclass=NullPool, connect_args={
        "application_name": name[:63], "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10,
        "keepalives_interval": 5, "keepalives_count": 3})
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _session_holder(conn: Connection, key: int) -> str | None:
    row = conn.execute(text(
        "SELECT a.application_name, host(a.client_addr), a.pid FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"),
        {"high": key >> 32, "low": key & 0xFFFFFFFF}).first()
    if row is None:
        return None
    name, address, pid = row
    if name and name.startswith("jaga "):
        return name
    return f"a PostgreSQL session (backend pid {pid}{f' from {address}' if address else ''})"


def writer_lock(url: str, node: str) -> WriterLock:
    if not url.startswith("sqlite"):
        return AdvisoryLock(url, node)
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return WriterLock()
    return FileLock(os.path.abspath(database) + ".lock")
