"""The rig for the reliability suite: daemons that are always stopped, mounts that are always undone,
and writers that stream uploads the way the upload application does.

Teardown order matters: daemons are killed first (they hold fds on the mounts), then mounts are undone
in reverse order, lazily if they are still busy, so a failing test never leaves a mount behind.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.harness import Deployment, wait_for, write_file

MiB = 1 << 20


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({result.returncode}): "
                             f"{result.stdout}{result.stderr}")
    return result


def root_reason() -> str | None:
    return None if os.geteuid() == 0 else "needs root (mount, remount, mknod)"


def binary_reason(*names: str) -> str | None:
    missing = [n for n in names if shutil.which(n) is None]
    return f"{', '.join(missing)} not installed (.ci/run installs it)" if missing else None


def require(*reasons: str | None) -> None:
    for reason in reasons:
        if reason:
            pytest.skip(reason)


class RigDeployment(Deployment):
    """The harness's Deployment, with the journal allowed to live elsewhere (on its own small disk)."""

    def __init__(self, base: Path, journal_path: Path | None = None, **kwargs):
        super().__init__(base, **kwargs)
        self.journal_path = journal_path or base / "journal.db"
        if journal_path is not None:
            self.doc["journal"]["url"] = f"sqlite:///{journal_path}"
            self.write_config()

    def journal_rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        import sqlite3
        with sqlite3.connect(self.journal_path, timeout=30) as conn:
            return conn.execute(sql, params).fetchall()

    def set(self, section: str, **values) -> None:
        self.doc.setdefault(section, {}).update(values)
        self.write_config()

    def counter(self, name: str, **labels) -> float:
        return self.metric(name, **labels) or 0.0

    def pending_metric(self, target: str = "secondary") -> float:
        return self.counter("jaga_replication_pending_files", node=self.node, target=target)

    def open_replicas(self) -> int:
        return self.journal_rows("SELECT count(*) FROM replicas WHERE state IN ('pending','copying','failed')")[0][0]

    def all_verified(self, rels) -> bool:
        """Every path in ``rels`` journaled with its newest version verified on every target (one query)."""
        rows = self.journal_rows(
            "SELECT f.path, min(r.state = 'verified') FROM files f JOIN versions v ON v.file_id = f.id "
            "AND v.number = f.current_version JOIN replicas r ON r.version_id = v.id GROUP BY f.id")
        done = {bytes(p) for p, ok in rows if ok}
        return all(rel in done for rel in rels)

    def log_count(self, text: str) -> int:
        try:
            return self.log_text().count(text)
        except FileNotFoundError:
            return 0


class Mounts:
    """mount/umount with bookkeeping; ``undo_all`` runs in the fixture's finalizer."""

    def __init__(self):
        self.points: list[Path] = []
        self.images: list[Path] = []

    def tmpfs(self, path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path)
        self.points.append(path)
        return path

    def bind(self, source: Path, path: Path) -> Path:
        """Mount ``source`` over ``path`` (what an operator mounting another disk there does to jaga)."""
        run("mount", "--bind", source, path)
        self.points.append(path)
        return path

    def ext4_image(self, image: Path, size: str = "64M") -> Path:
        run("truncate", "-s", size, image)
        run("mkfs.ext4", "-q", "-F", image)
        self.images.append(image)
        return image

    def loop(self, image: Path, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        run("mount", "-o", "loop", image, path)
        if path not in self.points:
            self.points.append(path)
        return path

    def remount(self, path: Path, options: str) -> None:
        run("mount", "-o", f"remount,{options}", path)

    def umount(self, path: Path, lazy: bool = False) -> None:
        run("umount", *(["-l"] if lazy else []), path)

    def loop_devices(self, image: Path) -> str:
        """The loop devices still backed by ``image`` (a lazily unmounted fs keeps its device until released)."""
        return run("losetup", "-j", image, check=False).stdout.strip()

    def undo_all(self) -> None:
        for path in reversed(self.points):
            for _ in range(10):
                if not os.path.ismount(path):
                    break
                if run("umount", path, check=False).returncode != 0:
                    run("umount", "-l", path, check=False)
        for image in self.images:
            for line in self.loop_devices(image).splitlines():
                run("losetup", "-d", line.split(":")[0], check=False)


class Rig:
    """What a reliability test needs: deployments that are always torn down, and mounts."""

    def __init__(self, base: Path):
        self.base = base
        self.mounts = Mounts()
        self.deployments: list[RigDeployment] = []
        self.writers: list[Writer] = []

    def deployment(self, settle: str = "300ms", retry: dict | None = None, **kwargs) -> RigDeployment:
        d = RigDeployment(self.base, settle=settle, **kwargs)
        d.doc["retry"] = retry or {"initial": "100ms", "maximum": "1s"}
        d.write_config()
        self.deployments.append(d)
        return d

    def writer(self, uploads: Path, **kwargs) -> "Writer":
        w = Writer(uploads, **kwargs)
        self.writers.append(w)
        return w

    def teardown(self) -> None:
        for w in self.writers:
            w.stop()
        for d in self.deployments:
            if d.process is not None and d.process.poll() is None:
                d.process.kill()
                d.process.wait()
        self.mounts.undo_all()


class Writer(threading.Thread):
    """Streams ``count`` files into ``uploads`` at about ``rate`` files/s, like an upload app would:
    most written in place and closed, some as ``*.part`` renamed into place, some into new folders.
    Records every relative path it completed (bytes)."""

    def __init__(self, uploads: Path, count: int, rate: float, sizes=(1000, 60_000), folders: int = 20,
                 seed: int | None = None, prefix: str = "s"):
        super().__init__(daemon=True, name="upload-writer")
        self.uploads = uploads
        self.count = count
        self.rate = rate
        self.sizes = sizes
        self.folders = folders
        self.random = random.Random(seed)
        self.prefix = prefix
        self.written: list[bytes] = []
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            began = time.monotonic()
            for i in range(self.count):
                if self._halt.is_set():
                    return
                folder = f"{self.prefix}{self.random.randrange(self.folders):02d}"
                if i % 50 == 0:  # a brand-new nested folder now and then (its watch comes late)
                    folder += f"/new{i:05d}/deeper"
                rel = f"{folder}/{self.prefix}-{i:05d}.bin"
                data = self.random.randbytes(self.random.randint(*self.sizes))
                path = self.uploads / rel
                if i % 7 == 3:
                    write_file(str(path) + ".part", data)
                    os.replace(str(path) + ".part", path)
                else:
                    write_file(path, data)
                self.written.append(rel.encode())
                ahead = began + (i + 1) / self.rate - time.monotonic()
                if ahead > 0:
                    self._halt.wait(ahead)
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(10)

    def finish(self, timeout: float = 300) -> list[bytes]:
        self.join(timeout)
        assert not self.is_alive(), "writer did not finish"
        if self.error:
            raise self.error
        return self.written


def fill(path: Path, leave: int = 0, chunk: int = MiB) -> Path:
    """Fill the filesystem holding ``path`` (a folder) with one ballast file, leaving about ``leave`` bytes."""
    ballast = path / ".ballast"
    block = b"\0" * chunk
    with open(ballast, "wb") as handle:
        while True:
            st = os.statvfs(path)
            free = st.f_bavail * st.f_frsize - leave
            if free <= 0:
                break
            try:
                handle.write(block[:max(4096, min(chunk, free))])
                handle.flush()
            except OSError:
                break
    return ballast


__all__ = ["MiB", "Mounts", "Rig", "RigDeployment", "Writer", "binary_reason", "fill", "require",
           "root_reason", "run", "wait_for"]
