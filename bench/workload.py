"""Generated workloads: the same seeded sizes and bytes for jaga and for each peer.

Contents come from one random pool sliced at seeded offsets, with a unique header per file, so every
file differs (no tool can shortcut by content) without paying os.urandom per byte.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB
POOL_SIZE = 8 * MIB


@dataclass(frozen=True)
class FileSpec:
    name: str
    size: int
    offset: int


class Payload:
    """Deterministic file bytes: a header naming the file, then a slice of a seeded random pool."""

    def __init__(self, seed: int = 1):
        self._pool = random.Random(seed).randbytes(POOL_SIZE)

    def data(self, spec: FileSpec) -> bytes:
        header = f"jaga-bench {spec.name} {spec.size}\n".encode()
        body = self._pool[spec.offset:spec.offset + spec.size - len(header)]
        return (header + body)[:spec.size]

    def write(self, path: str, spec: FileSpec) -> float:
        """Write and close one file; return the wall-clock time right after close()."""
        with open(path, "wb") as handle:
            handle.write(self.data(spec))
        return time.time()

    def write_big(self, path: str, size: int) -> None:
        """A large file from the pool, each MiB stamped with its index so no two blocks repeat."""
        with open(path, "wb") as handle:
            for index in range(0, size, MIB):
                block = (index // MIB).to_bytes(8, "big") + self._pool[index % (POOL_SIZE - MIB):][:MIB - 8]
                handle.write(block[:size - index])


def specs(count: int, low: int, high: int, seed: int, prefix: str = "f") -> list[FileSpec]:
    """``count`` files with sizes uniform in [low, high], names ``<prefix>000123.pdf``."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        size = rng.randint(low, high)
        out.append(FileSpec(f"{prefix}{index:06d}.pdf", size, rng.randrange(0, POOL_SIZE - size)))
    return out


def write_paced(payload: Payload, folder: str, files: list[FileSpec], rate: float) -> dict[str, float]:
    """Write files at ``rate`` per second on a fixed schedule (no drift); return name → close time."""
    closed = {}
    start = time.monotonic()
    for index, spec in enumerate(files):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        closed[spec.name] = payload.write(os.path.join(folder, spec.name), spec)
    return closed


def write_tree(payload: Payload, folder: str, files: list[FileSpec], per_dir: int = 0) -> None:
    """Write files as fast as possible, optionally spread over sub-folders of ``per_dir`` files."""
    for index, spec in enumerate(files):
        sub = os.path.join(folder, f"d{index // per_dir:04d}") if per_dir else folder
        if not per_dir or index % per_dir == 0:
            os.makedirs(sub, exist_ok=True)
        payload.write(os.path.join(sub, spec.name), spec)
