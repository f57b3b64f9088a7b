"""Small helpers shared by the workloads: waiting on conditions, scratch folders, counting names."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path


def wait_until(condition, timeout: float, interval: float = 0.05):
    """Poll ``condition`` until truthy; return its value, or None once ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def fresh(path: Path) -> Path:
    """An empty folder at ``path`` (on /work's disk: page cache and fsync behave as in production)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def settle_disk() -> None:
    """Flush dirty pages between runs so one tool's writeback is not billed to the next."""
    os.sync()
    time.sleep(0.5)


def link_copy(source: Path, dest: Path) -> None:
    """A hard-linked copy of a tree: the same bytes (already in the page cache) under a new name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(source), str(dest)], check=True)


def count_visible(folder: Path) -> int:
    """Final names in a folder (temporary names start with a dot)."""
    try:
        with os.scandir(folder) as entries:
            return sum(1 for entry in entries if not entry.name.startswith("."))
    except FileNotFoundError:
        return 0
