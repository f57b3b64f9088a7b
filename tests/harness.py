"""Run the real daemon as a subprocess on real folders, and wait on conditions, never on sleeps."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.servers.polling import free_port, wait_until  # noqa: F401 (free_port is part of the harness)

REPO = Path(__file__).resolve().parents[1]
RECORDINGS = REPO / "tests" / "fixtures" / "smartctl"  # vendored, byte for byte (see its README)


def wait_for(condition, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail the test with ``message`` after ``timeout``."""
    try:
        return wait_until(condition, timeout, interval, message)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {message}") from None


def sha256_file(path: Path | bytes) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def jaga_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "jaga", *args]


class Deployment:
    """A config and folders in a temporary directory: uploads, one local replica, a SQLite journal."""

    def __init__(self, base: Path, settle: str = "500ms", targets: list[dict] | None = None,
                 extra: dict | None = None, watch_name: str = "uploads"):
        self.base = base
        self.uploads = base / "uploads"
        self.replica = base / "replica"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.watch_name = watch_name
        self.config_path = base / "jaga.yaml"
        self.log_path = base / "jaga.log"
        self.doc = {
            "journal": {"url": "sqlite:///journal.db"},
            "watch": [{"path": "uploads", "name": watch_name}],
            "targets": targets if targets is not None else [{"name": "secondary", "type": "local",
                                                               "path": "replica"}],
            "ingest": {"settle": settle},
            "retry": {"initial": "200ms", "maximum": "2s"},
            "metrics": {"listen": f"127.0.0.1:{self.port}"},
            "monitor": {"smart": {"enabled": False}},
            "logging": {"level": "debug"},
        }
        for key, value in (extra or {}).items():
            self.doc[key] = value
        self.write_config()
        self.process: subprocess.Popen | None = None
        self.tls: ssl.SSLContext | None = None     # set when the listener serves HTTPS (metrics.web_config)
        self.authorization: str | None = None      # an Authorization header for it

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.doc, sort_keys=False))

    @property
    def node(self) -> str:
        """The node this config runs as (its journal-derived metrics carry it)."""
        from journal.records import default_node
        return self.doc.get("node") or default_node()

    @property
    def replica_data(self) -> Path:
        """Where replicas of this watch live: ``<target root>/<watch name>/``."""
        return self.replica / self.watch_name

    # -- the daemon ---------------------------------------------------------------------------

    def start(self, wrapper: list[str] | None = None, env: dict | None = None, ready=None) -> "Deployment":
        """Start the daemon and wait until ``ready()`` (default: its /healthz answers 200)."""
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen((wrapper or []) + jaga_command("-c", str(self.config_path), "run"),
                                        stdout=log, stderr=log, cwd=self.base,
                                        env={**os.environ, **(env or {})})
        log.close()
        try:
            wait_for(ready or self._healthy, 30, message="the daemon to start")
        except AssertionError as exc:
            if not str(exc).startswith("timed out"):
                raise  # it exited, and said so with its log
            raise AssertionError(f"{exc}; its log:\n{self.log_tail()}") from None
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited with {self.process.returncode}: {self.log_tail()}")
        try:
            return self.http("/healthz")[0] == 200
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"daemon did not stop within {timeout}s after signal {sig}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged(self, *parts: str) -> bool:
        """Some log line holds every one of ``parts``."""
        return any(all(part in line for part in parts) for line in self.log_text().splitlines())

    # -- looking in ---------------------------------------------------------------------------

    def http(self, path: str, authorization: str | None = None) -> tuple[int, bytes]:
        scheme = "https" if self.tls else "http"
        authorization = authorization or self.authorization
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{self.port}{path}",
                                         headers={"Authorization": authorization} if authorization else {})
        try:
            with urllib.request.urlopen(request, timeout=5, context=self.tls) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """{(sample name, sorted labels): value} from a real scrape."""
        _, body = self.http("/metrics")
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def metric(self, name: str, **labels) -> float | None:
        return self.metrics().get((name, tuple(sorted(labels.items()))))

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(jaga_command("-c", str(self.config_path), *args), capture_output=True,
                              text=True, timeout=timeout, cwd=self.base)

    def status(self) -> dict:
        result = self.cli("status", "--json")
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout)

    def verified_count(self, target: str = "secondary") -> int:
        return self.status()["targets"][target]["verified"]

    def journal_rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        import sqlite3
        with sqlite3.connect(self.base / "journal.db", timeout=30) as conn:
            return conn.execute(sql, params).fetchall()

    def replica_states(self) -> dict[bytes, list[str]]:
        rows = self.journal_rows("SELECT f.path, r.state FROM replicas r JOIN versions v ON v.id = r.version_id "
                                 "JOIN files f ON f.id = v.file_id ORDER BY v.number")
        states: dict[bytes, list[str]] = {}
        for path, state in rows:
            states.setdefault(bytes(path), []).append(state)
        return states

    def is_verified(self, rel: bytes) -> bool:
        """Newest version of ``rel`` verified on every target."""
        rows = self.journal_rows(
            "SELECT r.state FROM replicas r JOIN versions v ON v.id = r.version_id JOIN files f "
            "ON f.id = v.file_id WHERE f.path = ? AND v.number = f.current_version", (rel,))
        return bool(rows) and all(state == "verified" for (state,) in rows)


def write_file(path: Path | bytes, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def temporaries(root: Path) -> list[str]:
    return [os.path.join(folder, name) for folder, _, files in os.walk(root) for name in files
            if name.startswith(".jaga-tmp-")]
