"""A private PostgreSQL cluster on loopback for the journal's tests (Debian's postgresql package)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from tests.harness import free_port


def postgres_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def unavailable_reason() -> str | None:
    if postgres_bin() is None:
        return "PostgreSQL server binaries are not installed (.ci/run installs postgresql)"
    if os.geteuid() != 0:
        return "starting a private PostgreSQL cluster needs root (to run it as the postgres user)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres system user"
    return None


class PostgresCluster:
    def __init__(self):
        self.bin = postgres_bin()
        self.base = tempfile.mkdtemp(prefix="jaga-pg-")
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        shutil.chown(self.base, "postgres", "postgres")

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    def start(self) -> "PostgresCluster":
        self._as_postgres(f"{self.bin}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                         "--locale=C")
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.base, "log"), "-w",
                          "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=on",
                          "start")
        return self

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin}/createdb", "-h", "127.0.0.1", "-p",
                        str(self.port), name], check=True, capture_output=True)
        return self.url(name)


class StandbyCluster(PostgresCluster):
    """A streaming standby of ``primary`` (pg_basebackup -R: asynchronous replication), promotable."""

    def __init__(self, primary: PostgresCluster):
        super().__init__()
        self.primary = primary

    def start(self) -> "StandbyCluster":
        self._as_postgres(f"{self.bin}/pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U",
                          "postgres", "-D", self.data, "-R", "-X", "stream", "-c", "fast")
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.base, "log"), "-w",
                          "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base}", "start")
        return self

    def promote(self) -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", self.data, "-w", "promote")


def crash(cluster: PostgresCluster) -> None:
    """Stop at once, as a lost machine would (no shutdown checkpoint)."""
    subprocess.run(["runuser", "-u", "postgres", "--", f"{cluster.bin}/pg_ctl", "-D", cluster.data, "-m",
                    "immediate", "-w", "stop"], capture_output=True)


def multi_host_url(database: str, *clusters: PostgresCluster) -> str:
    """One URL for a primary and its standbys: libpq tries each and keeps the one that takes writes."""
    hosts = "&".join(f"host=127.0.0.1:{c.port}" for c in clusters)
    return f"postgresql+psycopg://postgres@/{database}?{hosts}&target_session_attrs=read-write"
