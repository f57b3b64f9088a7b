"""A big journal, fast, and kept: the daemon's own migration creates the schema, then SQLite itself
generates the rows (a recursive CTE: no Python loop per row, about a million rows a second here).

The files really on disk are generated with a size and an mtime that are functions of their number,
so the journal's rows for them can be computed rather than read from a stat; a restart then finds
nothing new. The other rows are files from earlier years, journalled and replicated, and deleted from
the primary since (``deleted_at`` set: the history a journal keeps). Left current, they would be nine
million deletions for the restart's reconcile to find (it checks every current path), not a restart.

Ten million rows take minutes to make, so the tree, the journal and the target's marker are kept under
``cache`` (var/bench-cache), keyed by the measured source's schema (a hash of its migrations) and the
sizes. The daemon only reads the tree; each run gets a copy of the journal, never the cached one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.jagaproc import TARGET, WATCH
from journal.records import default_node

FORMAT = 4          # bump when the generated rows change
PER_DIR = 1000
MTIME0 = 1_600_000_000 * 10**9
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


def disk_size(index: int) -> int:
    return 512 + (index * 37) % 3584


def disk_mtime(index: int) -> int:
    return MTIME0 + index * 1_000_000


@dataclass(frozen=True)
class Generated:
    """A cached big deployment: the watched tree, the pristine journal, the target root with its marker."""

    folder: Path

    @property
    def tree(self) -> Path:
        return self.folder / "tree"

    @property
    def journal(self) -> Path:
        return self.folder / "journal.db"

    @property
    def replica(self) -> Path:
        return self.folder / "replica"

    def copy_state(self, journal: Path, replica: Path) -> None:
        """A private copy of the journal and the target root, for one run to change."""
        subprocess.run(["cp", "--sparse=always", str(self.journal), str(journal)], check=True)
        if replica.exists():
            shutil.rmtree(replica)
        shutil.copytree(self.replica, replica, symlinks=True)


def schema_key(source: Path) -> str:
    """The measured source's journal schema, as the hash of its migration scripts."""
    digest = hashlib.sha256()
    for script in sorted((source / "journal" / "migrations" / "versions").glob("*.py")):
        digest.update(script.name.encode() + b"\0" + script.read_bytes())
    return digest.hexdigest()[:12]


def cached(cache: Path, source: Path, total: int, on_disk: int, log=print) -> Generated:
    """The generated deployment for these sizes and this schema, made now if the cache lacks it."""
    key = f"journal-{total}-{on_disk}-s{schema_key(source)}-f{FORMAT}-n{default_node()}"
    made = Generated(cache / key)
    if (made.folder / "complete").exists():
        log(f"   journal of {total:,} files from the cache ({made.folder})")
        return made
    if made.folder.exists():
        shutil.rmtree(made.folder)  # an interrupted build
    made.folder.mkdir(parents=True)
    began = time.monotonic()
    write_tree(made.tree, on_disk)
    wrote = time.monotonic()
    _migrate_and_mark(source, made.journal, made.replica)
    fill(made.journal, total, on_disk, default_node())
    (made.folder / "complete").write_text(f"tree {wrote - began:.0f}s, journal {time.monotonic() - wrote:.0f}s\n")
    log(f"   generated {on_disk:,} files in {wrote - began:.0f}s and a journal of {total:,} in "
        f"{time.monotonic() - wrote:.0f}s; cached in {made.folder}")
    return made


def write_tree(tree: Path, count: int) -> None:
    """``count`` small files, PER_DIR to a folder, each with its computed size and mtime."""
    block = os.urandom(4096)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for start in range(0, count, PER_DIR):
        folder = tree / f"d{start // PER_DIR:04d}"
        folder.mkdir(parents=True)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for index in range(start, min(count, start + PER_DIR)):
                name = f"u{index:07d}.pdf"
                fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
                try:
                    os.write(fd, block[:disk_size(index)])
                    mtime = disk_mtime(index)
                    os.utime(fd, ns=(mtime, mtime))
                finally:
                    os.close(fd)
        finally:
            os.close(dir_fd)


def _migrate_and_mark(source: Path, journal: Path, replica: Path) -> None:
    """The schema exactly as the measured daemon creates it (its own migration, run from its own
    source tree), and a target marker the journal knows."""
    subprocess.run([sys.executable, "-c", MIGRATE, f"sqlite:///{journal}", TARGET, str(replica)], cwd=source,
                   check=True)


def fill(journal: Path, total: int, on_disk: int, node: str) -> None:
    """Files 0..on_disk-1 are the tree's, the rest archived (deleted from the primary, kept as history);
    each has one version, verified on TARGET. Every file is ``node``'s (the daemon's default node, this
    host's name), as a journal written by jaga since 0006 has them: rows without a node would make the
    restart adopt ten million rows first, a one-time upgrade step, not a restart."""
    numbers = ("WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) ")
    with sqlite3.connect(journal) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-500000")  # 500 MB: index inserts stay in memory
        conn.execute(numbers + "INSERT INTO files (id, node, watch, path, current_version, size, mtime_ns, inode, "
                     "deleted_at) SELECT i + 1, ?, ?, CAST(printf('d%04d/u%07d.pdf', i / ?, i) AS BLOB), 1, "
                     "512 + (i * 37) % 3584, ? + i * 1000000, NULL, NULL FROM n",
                     (0, on_disk, node, WATCH, PER_DIR, MTIME0))
        if total > on_disk:
            conn.execute(numbers + "INSERT INTO files (id, node, watch, path, current_version, size, mtime_ns, "
                         "inode, deleted_at) SELECT i + 1, ?, ?, CAST(printf('archive/%05d/a%08d.pdf', i / ?, i) "
                         "AS BLOB), 1, 2048 + i % 65536, ? + i, NULL, ? FROM n",
                         (on_disk, total, node, WATCH, PER_DIR, int(1.5e18), 1.7e9))
        conn.execute("INSERT INTO versions (id, file_id, number, size, mtime_ns, sha256, seen_at, completed_at) "
                     "SELECT id, id, 1, size, mtime_ns, ?, ?, ? FROM files", ("0" * 64, 1.6e9, 1.6e9))
        conn.execute("INSERT INTO replicas (id, version_id, target, state, attempts, next_attempt_at, "
                     "last_error, created_at, verified_at) SELECT id, id, ?, 'verified', 1, 0, NULL, "
                     "completed_at, completed_at + 0.05 FROM versions", (TARGET,))
        conn.commit()  # no ANALYZE: a real journal has no statistics unless the daemon makes them
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
