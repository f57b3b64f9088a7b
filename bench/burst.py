"""B. burst: many small files arrive at once. The tree is written and flushed beforehand, then renamed
into the watched folder in one step, so jaga, lsyncd and rsync all start from the same state (bytes
in the page cache, clock starting when the files appear).

For jaga the tree is staged in an ignored dot-folder inside the watch and is older than the settle
window when it is renamed in, as an upload app that stages complete files would do; a folder renamed
in from outside the watch reaches jaga as "created" events and waits the settle window (see
docs/performance.md)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from bench.context import Context
from bench.jagaproc import JagaDaemon
from bench.peers import Lsyncd, rsync_fsync
from bench.report import Row
from bench.stats import median
from bench.util import count_visible, fresh, link_copy, settle_disk, wait_until
from bench.workload import KIB, specs, write_tree

TIMEOUT = 900.0
SETTLE = 2.0  # jaga's default ingest.settle


def run(ctx: Context, count: int, repeats: int) -> list[Row]:
    ws, payload = ctx.ws, ctx.payload
    files = specs(count, 64 * KIB, 64 * KIB, seed=22, prefix="b")
    results = {"jaga": [], "rsync": [], "lsyncd": []}
    for index in range(repeats):
        base = fresh(ws / f"B{index}")
        stage = base / "stage" / "burst"
        stage.mkdir(parents=True)
        write_tree(payload, str(stage), files)
        settle_disk()
        results["rsync"].append(rsync_fsync(stage, base / "rsync-dst"))
        settle_disk()
        results["jaga"].append(_jaga(ctx, base / "jaga", stage, count))
        settle_disk()
        results["lsyncd"].append(_lsyncd(base / "lsyncd", stage, count))
        settle_disk()
        shutil.rmtree(base)
    return _rows(results, count)


def drop(stage: Path, incoming: Path, into: Path, age: float = 0.0) -> float:
    """Hard-link the staged tree to ``incoming``, flush, let it age, rename it in; return the time."""
    link_copy(stage, incoming)
    linked = time.monotonic()
    settle_disk()
    time.sleep(max(0.0, linked + age - time.monotonic()))
    began = time.time()
    os.rename(incoming, into)
    return began


def _jaga(ctx: Context, base: Path, stage: Path, count: int) -> float:
    return jaga_burst(JagaDaemon(fresh(base), ctx.source), stage, count)


def jaga_burst(daemon: JagaDaemon, stage: Path, count: int) -> float:
    """Start ``daemon``, rename the staged tree into its watch; seconds until the last replica is verified."""
    daemon.start()
    try:
        began = drop(stage, daemon.uploads / ".staging" / "burst", daemon.uploads / "burst", SETTLE + 0.5)
        done = wait_until(lambda: daemon.verified()[0] >= count, TIMEOUT, 0.1)
        return daemon.verified()[1] - began if done else float("inf")
    finally:
        daemon.stop()


def _lsyncd(base: Path, stage: Path, count: int) -> float:
    fresh(base)
    peer = Lsyncd(base, base / "src", base / "dst").start()
    try:
        began = drop(stage, base / "incoming" / "burst", peer.source / "burst")
        done = wait_until(lambda: count_visible(peer.target / "burst") >= count, TIMEOUT, 0.05)
        return time.time() - began if done else float("inf")
    finally:
        peer.stop()


def _rows(results: dict, count: int) -> list[Row]:
    label = f"B burst ({count} × 64 KiB)"
    jaga = median(results["jaga"])
    samples = {key: values for key, values in results.items()}
    return [
        Row(label, "all verified vs rsync -a --fsync", "s", jaga, median(results["rsync"]), "rsync --fsync",
            "≤ 1.0 × rsync", "ratio<=", 1.0, samples),
        Row(label, "all verified vs lsyncd all visible", "s", jaga, median(results["lsyncd"]), "lsyncd",
            "< lsyncd", "ratio<", 1.0, samples),
    ]
