"""A big journal, fast: the daemon's own migration creates the schema, then plain sqlite3 bulk-inserts
files, versions and verified replicas (an ORM would take an hour for a million rows).

The files really on disk get rows with their real size and mtime, so a restart finds nothing new;
the rest are files from earlier years, journalled and replicated but no longer on the primary's
walk (the reconcile scan only walks the disk)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.jagaproc import TARGET, WATCH, JagaDaemon
from bench.workload import FileSpec, Payload, write_tree

PER_DIR = 1000
MIGRATE = """
import sys
from journal import Journal
from replication.local.target import LocalTarget
from replication.readiness import initialise
journal = Journal(sys.argv[1])
journal.migrate()
initialise(LocalTarget(sys.argv[2], sys.argv[3]), journal)
journal.close()
"""


def build(daemon: JagaDaemon, payload: Payload, total: int, on_disk: int) -> None:
    uploads = daemon.uploads
    files = [FileSpec(f"u{i:07d}.pdf", 512 + (i * 37) % 3584, (i * 4099) % 100_000) for i in range(on_disk)]
    write_tree(payload, str(uploads), files, per_dir=PER_DIR)
    _migrate_and_mark(daemon)
    with sqlite3.connect(daemon.journal_path) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany("INSERT INTO files (id, watch, path, current_version, size, mtime_ns, deleted_at) "
                         "VALUES (?, ?, ?, 1, ?, ?, NULL)", _file_rows(uploads, total))
        conn.execute("INSERT INTO versions (id, file_id, number, size, mtime_ns, sha256, seen_at, completed_at) "
                     "SELECT id, id, 1, size, mtime_ns, ?, ?, ? FROM files", ("0" * 64, 1.6e9, 1.6e9))
        conn.execute("INSERT INTO replicas (id, version_id, target, state, attempts, next_attempt_at, "
                     "last_error, created_at, verified_at) SELECT id, id, ?, 'verified', 1, 0, NULL, "
                     "completed_at, completed_at + 0.05 FROM versions", (TARGET,))
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _migrate_and_mark(daemon: JagaDaemon) -> None:
    """The schema exactly as the measured daemon creates it (its own migration, run from its own
    source tree), and a target marker the journal knows."""
    subprocess.run([sys.executable, "-c", MIGRATE, f"sqlite:///{daemon.journal_path}", TARGET,
                    str(daemon.replica)], cwd=daemon.source, check=True)


def _file_rows(uploads: Path, total: int) -> Iterator[tuple]:
    """(id, watch, path, size, mtime_ns): the real files first, then archived ones up to ``total``."""
    ident = 0
    for folder in sorted(os.listdir(uploads)):
        with os.scandir(uploads / folder) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                ident += 1
                yield ident, WATCH, f"{folder}/{entry.name}".encode(), st.st_size, st.st_mtime_ns
    mtime = int(1.6e18)
    while ident < total:
        ident += 1
        path = f"archive/{ident // PER_DIR:05d}/a{ident:07d}.pdf".encode()
        yield ident, WATCH, path, 2048 + ident % 65536, mtime + ident

