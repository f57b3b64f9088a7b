"""The real daemon as a subprocess, configured the way an operator would, plus read-only looks in."""

from __future__ import annotations

import http.client
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WATCH = "uploads"
TARGET = "secondary"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JagaDaemon:
    """One deployment in ``base``: uploads/, replica/, journal.db. Defaults everywhere except the
    bench-wide settings the lead asked for (no SMART polling, warning-level logs)."""

    def __init__(self, base: Path, source: Path = REPO, extra: dict | None = None, env: dict | None = None):
        self.base = Path(base)
        self.env = env
        self.source = Path(source)
        self.uploads = self.base / "uploads"
        self.replica = self.base / "replica"
        self.journal_path = self.base / "journal.db"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.replica_data.mkdir(parents=True, exist_ok=True)  # so it can be watched before the first copy
        doc = {
            "journal": {"url": f"sqlite:///{self.journal_path}"},
            "watch": [{"path": str(self.uploads), "name": WATCH}],
            "targets": [{"name": TARGET, "type": "local", "path": str(self.replica)}],
            "metrics": {"listen": f"127.0.0.1:{self.port}"},
            "monitor": {"smart": {"enabled": False}},
            "logging": {"level": "warning"},
            **(extra or {}),
        }
        self.config = self.base / "jaga.yaml"
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False))

    @property
    def replica_data(self) -> Path:
        return self.replica / WATCH

    def spawn(self, wrapper: list[str] | None = None) -> None:
        with open(self.base / "jaga.log", "ab") as log:
            command = (wrapper or []) + [sys.executable, "-m", "jaga", "-c", str(self.config), "run"]
            self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.source, env=self.env)

    def start(self, timeout: float = 60.0) -> "JagaDaemon":
        self.spawn()
        self.wait(lambda: self.get("/healthz")[0] == 200, timeout, "health endpoint")
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait(self, condition, timeout: float, what: str, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jaga exited ({self.process.returncode}); see {self.base / 'jaga.log'}")
            try:
                value = condition()
            except OSError:
                value = None
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"jaga: timed out after {timeout:.0f}s waiting for {what}")

    # -- looking in ---------------------------------------------------------------------------

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def timed_scrape(self) -> tuple[float, bytes]:
        """Seconds for one /metrics scrape on a fresh connection, as Prometheus would make it."""
        began = time.perf_counter()
        status, body = self.get("/metrics")
        elapsed = time.perf_counter() - began
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return elapsed, body

    def metric(self, name: str, labels: str = "") -> float | None:
        """A sample's value from the text exposition (``labels`` as printed, e.g. 'reason="startup"')."""
        _, body = self.get("/metrics")
        prefix = f"{name}{{{labels}}} " if labels else f"{name} "
        for line in body.decode().splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix):])
        return None

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(f"file:{self.journal_path}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql, params).fetchall()

    def verified(self) -> tuple[int, float | None]:
        """(replicas verified, the latest verified_at)."""
        rows = self.query("SELECT count(*), max(verified_at) FROM replicas WHERE state = 'verified'")
        return rows[0] if rows else (0, None)

    def verified_times(self) -> dict[str, float]:
        """File name (last path component) → verified_at, for every verified replica."""
        rows = self.query("SELECT f.path, r.verified_at FROM replicas r JOIN versions v ON v.id = r.version_id "
                          "JOIN files f ON f.id = v.file_id WHERE r.state = 'verified'")
        return {os.path.basename(bytes(path)).decode(): when for path, when in rows}

    def peak_rss(self) -> int:
        """Peak resident set size in bytes (the kernel's high-water mark, VmHWM)."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0
