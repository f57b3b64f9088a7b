"""The database under the journal: engines, short write transactions, read snapshots, errors."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from journal import migrate
from journal.errors import JournalError
from journal.models import Heartbeat
from journal.records import default_node


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


class Database:
    """Sessions on the journal's database. Thread-safe: each call uses its own session.

    ``node``: the server this process speaks for. Files, skips, node-local targets, scrubs, alerts and
    SMART samples belong to a node; every query of them is scoped to it (a fleet shares one journal).

    Every write goes through ``session()``, every read through ``reading()`` or ``stream()``: on
    SQLite a read never takes the write lock, so a status page does not queue behind a commit.
    """

    def __init__(self, url: str, node: str | None = None):
        self.url = url
        self.node = node or default_node()  # whose part of a shared journal this one reads and writes
        self.engine = make_engine(url)
        self.reader = make_engine(url, writer=False) if url.startswith("sqlite") else self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False)
        # SQLite has one writer at a time and makes waiters sleep in steps of up to 100 ms; queueing
        # our own threads on a lock instead hands the journal over the moment it is free.
        self._write_lock = threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext()

    def migrate(self) -> None:
        with self._errors("migrate"):
            try:
                migrate.upgrade(self.engine)
            except migrate.SchemaTooNew as exc:
                raise JournalError(str(exc)) from None

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short write transaction."""
        with self._errors("write"), self._write_lock, self._sessions.begin() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A short write transaction on a bare connection, for the hot paths (ingest's batches, the
        replicators' rounds): their statements are built once, and an ORM session per batch would
        cost as much Python as the statements themselves."""
        with self._errors("write"), self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read_conn(self) -> Iterator[Connection]:
        """``reading()`` on a bare connection, for the scans' per-batch lookups."""
        with self._errors("read"), self.reader.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot that never blocks writers, nor waits for them."""
        with self._errors("read"), self._read_sessions.begin() as session:
            yield session

    def stream(self, query: Select, batch: int) -> Iterator[tuple]:
        """The rows of a long read, ``batch`` at a time from the database: memory stays flat."""
        with self._errors("read"), self.reader.connect() as conn:
            for row in conn.execution_options(yield_per=batch).execute(query):
                yield tuple(row)

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


def _ensure_folder(url: str) -> None:
    """A fresh checkout has no var/ yet: the journal's folder is created, the file by SQLite."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:300]
