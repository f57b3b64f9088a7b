"""Churn: a seeded mix of file and folder operations on an upload tree, the way people and upload
programs really touch it: files written in place, dot-temp + rename (rsync), ``*.part`` + rename,
overwrites and replacements, deletions, files and folders moved around, folders renamed, moved out
of the tree and back, new nested folders written into at once, folders removed.

The workload keeps what the tree must hold afterwards (final bytes per path), when each final path
last changed (a write, its own rename, or a rename of a folder above it) and every path that was
deleted, so a test or a benchmark can compare the journal and the targets with it.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.jagaproc import JagaDaemon
from bench.report import Row
from bench.stats import median, percentile
from bench.util import fresh, settle_disk, wait_until

OPERATIONS = (  # (name, weight)
    ("write", 22), ("dot_temp", 10), ("part", 6), ("overwrite", 8), ("replace", 6), ("delete", 8),
    ("move_file", 8), ("mkdir", 6), ("nested_write", 6), ("rename_folder", 6), ("move_folder", 4),
    ("park_folder", 2), ("unpark_folder", 2), ("remove_folder", 1),
)
MAX_DEPTH = 3


class _SortedNames:
    """Names in sorted order, kept so as they come and go: picking one of thousands at 300 operations a
    second costs a bisect, not a sort (the generator's own CPU is taken from the daemon it measures)."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, name: str) -> None:
        index = bisect.bisect_left(self.items, name)
        if index == len(self.items) or self.items[index] != name:
            self.items.insert(index, name)

    def discard(self, name: str) -> None:
        index = bisect.bisect_left(self.items, name)
        if index < len(self.items) and self.items[index] == name:
            del self.items[index]

    def below(self, folder: str) -> list[str]:
        """Names inside ``folder``: from "folder/" up to, not including, "folder0" ("/" + 1)."""
        return self.items[bisect.bisect_left(self.items, folder + "/"):bisect.bisect_left(self.items, folder + "0")]


class _Files(dict):
    """path → FileState, with the paths also in sorted order."""

    def __init__(self):
        super().__init__()
        self.names = _SortedNames()

    def __setitem__(self, path, state) -> None:
        self.names.add(path)
        super().__setitem__(path, state)

    def pop(self, path, *default):
        self.names.discard(path)
        return super().pop(path, *default)


class _Folders(set):
    """The tree's folders, also in sorted order."""

    def __init__(self):
        super().__init__()
        self.names = _SortedNames()

    def add(self, folder) -> None:
        self.names.add(folder)
        super().add(folder)

    def discard(self, folder) -> None:
        self.names.discard(folder)
        super().discard(folder)

    def __ior__(self, folders):
        for folder in folders:
            self.add(folder)
        return self

    def __isub__(self, folders):
        for folder in list(folders):
            self.discard(folder)
        return self


@dataclass
class FileState:
    sha256: str
    size: int
    changed_at: float   # wall time of the last operation that put these bytes at this path


@dataclass
class Churn:
    """Operations on ``root`` (a watched folder); ``outside`` is a sibling folder nobody watches."""

    root: Path
    outside: Path
    seed: int = 1
    sizes: tuple[int, int] = (200, 40_000)
    files: dict[str, FileState] = field(default_factory=_Files)
    folders: set[str] = field(default_factory=_Folders)
    deleted: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.random = random.Random(self.seed)
        self.root.mkdir(parents=True, exist_ok=True)
        self.outside.mkdir(parents=True, exist_ok=True)
        self._parked: dict[str, dict[str, FileState]] = {}  # outside name → files (relative to it)
        self._serial = 0
        self._names, self._weights = zip(*OPERATIONS)

    # -- driving ------------------------------------------------------------------------------

    def seed_tree(self, folders: int, files_each: int) -> None:
        """A starting tree: ``folders`` top folders with ``files_each`` files each."""
        for index in range(folders):
            name = f"top{index:03d}"
            (self.root / name).mkdir(exist_ok=True)
            self.folders.add(name)
            for _ in range(files_each):
                self._write_new(name, how="write")

    def run(self, operations: int, rate: float) -> float:
        """``operations`` at ``rate`` per second on a fixed schedule; returns the seconds it took."""
        began = time.monotonic()
        for index in range(operations):
            ahead = began + index / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            self.step()
        return time.monotonic() - began

    def step(self) -> str:
        name = self.random.choices(self._names, self._weights)[0]
        done = getattr(self, f"_op_{name}")()
        self.counts[name if done else "skipped"] = self.counts.get(name if done else "skipped", 0) + 1
        return name

    def upload_everywhere(self, tag: str = "after") -> list[str]:
        """One new file in every folder (closed in place): a folder that went dark misses it."""
        return [self._write_new(folder, how="write", name=f"{tag}-{self._next()}.pdf")
                for folder in list(self.folders.names.items)]

    # -- the operations (each returns False when it had nothing to act on) --------------------------

    def _op_write(self) -> bool:
        return self._write_new(self._folder(), how="write") is not None

    def _op_dot_temp(self) -> bool:
        return self._write_new(self._folder(), how="dot_temp") is not None

    def _op_part(self) -> bool:
        return self._write_new(self._folder(), how="part") is not None

    def _op_overwrite(self) -> bool:
        rel = self._file()
        if rel is None:
            return False
        data = self._data()
        with open(self.root / rel, "r+b") as handle:
            handle.truncate(0)
            handle.write(data)
        self._record(rel, data)
        return True

    def _op_replace(self) -> bool:
        rel = self._file()
        if rel is None:
            return False
        folder, name = os.path.split(rel)
        temp = self.root / folder / f".{name}.{self._next()}"
        data = self._data()
        temp.write_bytes(data)
        os.rename(temp, self.root / rel)
        self._record(rel, data)
        return True

    def _op_delete(self) -> bool:
        rel = self._file()
        if rel is None:
            return False
        os.unlink(self.root / rel)
        self._forget(rel)
        return True

    def _op_move_file(self) -> bool:
        rel = self._file()
        if rel is None:
            return False
        dest = self._join(self._folder(), f"m{self._next()}-{os.path.basename(rel)}")
        os.rename(self.root / rel, self.root / dest)
        state = self._forget(rel)
        self.files[dest] = FileState(state.sha256, state.size, time.time())
        self.deleted.discard(dest)
        return True

    def _op_mkdir(self) -> bool:
        parent = self._folder(shallower_than=MAX_DEPTH)
        rel = self._join(parent, f"d{self._next()}")
        (self.root / rel).mkdir()
        self.folders.add(rel)
        return True

    def _op_nested_write(self) -> bool:
        """mkdir -p two levels and write at once: the files predate the new folders' watches."""
        parent = self._folder(shallower_than=MAX_DEPTH - 1)
        top = self._join(parent, f"n{self._next()}")
        leaf = f"{top}/deep"
        (self.root / leaf).mkdir(parents=True)
        self.folders |= {top, leaf}
        for _ in range(self.random.randint(1, 4)):
            self._write_new(leaf, how="write")
        return True

    def _op_rename_folder(self) -> bool:
        rel = self._folder(movable=True)
        if rel is None:
            return False
        parent = os.path.dirname(rel)
        self._move_folder(rel, self._join(parent, f"r{self._next()}"))
        return True

    def _op_move_folder(self) -> bool:
        rel = self._folder(movable=True)
        if rel is None:
            return False
        height = 1 + max((f.count("/") - rel.count("/") for f in self._below(rel)), default=0)
        parent = self._folder(shallower_than=MAX_DEPTH + 1 - height, avoid=rel)
        if parent is None:
            return False
        self._move_folder(rel, self._join(parent, f"v{self._next()}"))
        return True

    def _op_park_folder(self) -> bool:
        """Move a folder out of the tree (an unpaired IN_MOVED_FROM): its files are deleted here."""
        rel = self._folder(movable=True)
        if rel is None:
            return False
        name = f"parked{self._next()}"
        os.rename(self.root / rel, self.outside / name)
        prefix = rel + "/"
        moved = {path[len(prefix):]: self._forget(path) for path in self.files.names.below(rel)}
        self.folders -= {rel, *self._below(rel)}
        self._parked[name] = moved
        return True

    def _op_unpark_folder(self) -> bool:
        """Move a parked folder back in under a new name (an unpaired IN_MOVED_TO)."""
        if not self._parked:
            return False
        name = self.random.choice(sorted(self._parked))
        dest = self._join(self._folder(shallower_than=MAX_DEPTH - 1), f"u{self._next()}")
        os.rename(self.outside / name, self.root / dest)
        now = time.time()
        for sub, state in self._parked.pop(name).items():
            path = f"{dest}/{sub}"
            self.files[path] = FileState(state.sha256, state.size, now)
            self.deleted.discard(path)
        for folder, _dirs, _files in os.walk(self.root / dest):
            self.folders.add(os.path.relpath(folder, self.root))
        return True

    def _op_remove_folder(self) -> bool:
        rel = self._folder(movable=True)
        if rel is None:
            return False
        shutil.rmtree(self.root / rel)
        for path in self.files.names.below(rel):
            self._forget(path)
        self.folders -= {rel, *self._below(rel)}
        return True

    # -- helpers ------------------------------------------------------------------------------

    def _write_new(self, folder: str, how: str, name: str | None = None) -> str | None:
        name = name or f"f{self._next()}.pdf"
        rel = self._join(folder, name)
        data = self._data()
        final = self.root / rel
        if how == "write":
            with open(final, "wb") as handle:
                handle.write(data)
        else:
            temp = final.with_name(f".{name}.{self._next()}") if how == "dot_temp" else final.with_name(name + ".part")
            temp.write_bytes(data)
            os.rename(temp, final)
        self._record(rel, data)
        return rel

    def _move_folder(self, rel: str, dest: str) -> None:
        os.rename(self.root / rel, self.root / dest)
        now = time.time()
        prefix = rel + "/"
        for path in self.files.names.below(rel):
            state = self._forget(path)
            new = dest + "/" + path[len(prefix):]
            self.files[new] = FileState(state.sha256, state.size, now)
            self.deleted.discard(new)
        moved = {rel, *self._below(rel)}
        self.folders -= moved
        self.folders |= {dest + folder[len(rel):] for folder in moved}

    def _record(self, rel: str, data: bytes) -> None:
        self.files[rel] = FileState(hashlib.sha256(data).hexdigest(), len(data), time.time())
        self.deleted.discard(rel)

    def _forget(self, rel: str) -> FileState:
        self.deleted.add(rel)
        return self.files.pop(rel)

    def _below(self, rel: str) -> set[str]:
        return set(self.folders.names.below(rel))

    def _folder(self, shallower_than: int = MAX_DEPTH + 1, movable: bool = False, avoid: str | None = None):
        """A random folder ('' is the root) at depth < ``shallower_than``; ``movable``: not a top folder
        (the seeded top folders stay, so every run keeps a spread of watched folders)."""
        candidates = [f for f in self.folders.names.items if f.count("/") + 1 < shallower_than
                      and (avoid is None or (f != avoid and not f.startswith(avoid + "/")))]
        if movable:
            candidates = [f for f in candidates if "/" in f]
            return self.random.choice(candidates) if candidates else None
        if not candidates:
            return "" if shallower_than > 0 else None
        return self.random.choice(candidates + [""])

    def _file(self) -> str | None:
        return self.random.choice(self.files.names.items) if self.files else None

    def _data(self) -> bytes:
        return self.random.randbytes(self.random.randint(*self.sizes))

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    @staticmethod
    def _join(folder: str, name: str) -> str:
        return f"{folder}/{name}" if folder else name


class Burner:
    """Another busy process: one core spinning, as on a loaded upload server."""

    def __enter__(self) -> "Burner":
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait()


# -- the benchmark: ``python -m bench --only churn`` -------------------------------------------------

DRAIN = 120.0  # seconds after the churn before a final file not verified with its final bytes is a miss


def run(ctx, operations: int, rate: float, repeats: int) -> list[Row]:
    """E. churn: last change → verified per final file (p50/p99), misses, and the daemon's CPU."""
    trials = []
    for index in range(repeats):
        trials.append(_trial(ctx, fresh(ctx.ws / f"churn{index}"), operations, rate, seed=index + 1))
        settle_disk()
    label = f"E churn ({operations} ops at {rate:g}/s, one core busy elsewhere)"
    samples = {"trials": trials}
    return [
        Row(label, "last change→verified p50", "ms", median([t["p50_ms"] for t in trials]), samples=samples),
        Row(label, "last change→verified p99", "ms", median([t["p99_ms"] for t in trials]), target="≤ 1000 ms",
            goal="abs<=", limit=1000.0, samples=samples),
        Row(label, "final files missed", "files", max(t["missed"] for t in trials), target="0", goal="abs<=",
            limit=0.0, samples=samples),
        Row(label, "daemon CPU during the churn", "% of a core", median([t["cpu_pct"] for t in trials]),
            samples=samples),
    ]


def _trial(ctx, base: Path, operations: int, rate: float, seed: int) -> dict:
    daemon = JagaDaemon(base, ctx.source).start()
    try:
        churn = Churn(daemon.uploads, base / "outside", seed=seed)
        churn.seed_tree(folders=20, files_each=3)
        process = psutil.Process(daemon.process.pid)
        with Burner():
            before = process.cpu_times()
            took = churn.run(operations, rate)
            after = process.cpu_times()
            churn_ended = time.time()
            churn.upload_everywhere()
            wait_until(lambda: not _unverified(daemon, churn.files), DRAIN, 0.2)
        verified = _verified(daemon)
    finally:
        daemon.stop()
    right = {rel: verified[rel][1] - state.changed_at for rel, state in churn.files.items()
             if verified.get(rel, (None,))[0] == state.sha256}
    # the lag at the churn's rate: files whose last change came during the churn; the one upload made
    # into every folder afterwards (a burst of ~1,000 at once) only proves no folder went dark
    lags = [right[rel] for rel, state in churn.files.items() if rel in right and state.changed_at <= churn_ended]
    return {"seed": seed, "ops_per_s": operations / took, "final_files": len(churn.files),
            "missed": len(churn.files) - len(right), "p50_ms": percentile(lags, 50) * 1000,
            "p99_ms": percentile(lags, 99) * 1000, "max_ms": max(lags, default=0) * 1000,
            "cpu_pct": 100 * (after.user + after.system - before.user - before.system) / took, "counts": churn.counts}


def _verified(daemon) -> dict[str, tuple[str, float]]:
    """Current path → (SHA-256, when its current version was verified on every target)."""
    rows = daemon.query("SELECT f.path, v.sha256, max(r.verified_at) FROM files f JOIN versions v ON "
                        "v.file_id = f.id AND v.number = f.current_version JOIN replicas r ON r.version_id = v.id "
                        "WHERE f.deleted_at IS NULL GROUP BY f.id HAVING min(r.state = 'verified') = 1")
    return {os.fsdecode(bytes(path)): (sha, when) for path, sha, when in rows}


def _unverified(daemon, files: dict[str, FileState]) -> list[str]:
    verified = _verified(daemon)
    return [rel for rel, state in files.items() if verified.get(rel, (None,))[0] != state.sha256]
