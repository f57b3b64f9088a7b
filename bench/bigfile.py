"""C. one big file: throughput from the file appearing (renamed from ``.big.bin.part`` to its final
name inside the watch, the usual upload pattern) to its replica verified, against ``cp`` then
``sync`` of the same, already cached, file."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from bench.context import Context
from bench.jagaproc import JagaDaemon
from bench.peers import cp_then_sync
from bench.report import Row
from bench.stats import median
from bench.util import fresh, settle_disk, wait_until
from bench.workload import MIB

TIMEOUT = 900.0


def run(ctx: Context, size: int, repeats: int) -> list[Row]:
    ws, payload = ctx.ws, ctx.payload
    results = {"jaga": [], "cp+sync": []}
    for index in range(repeats):
        base = fresh(ws / f"C{index}")
        stage = base / "stage" / "big.bin"
        stage.parent.mkdir()
        payload.write_big(str(stage), size)
        settle_disk()
        results["cp+sync"].append(size / MIB / cp_then_sync(stage, base / "cp-copy.bin"))
        os.unlink(base / "cp-copy.bin")
        settle_disk()
        results["jaga"].append(size / MIB / _jaga(ctx, base / "jaga", stage))
        settle_disk()
        shutil.rmtree(base)
    label = f"C one {size / MIB / 1024:g} GiB file" if size >= 1024 * MIB else f"C one {size // MIB} MiB file"
    return [Row(label, "throughput until verified", "MiB/s", median(results["jaga"]), median(results["cp+sync"]),
                "cp + sync", "≥ 0.8 × cp+sync", "ratio>=", 0.8, results)]


def _jaga(ctx: Context, base: Path, stage: Path) -> float:
    return time_big_upload(JagaDaemon(fresh(base), ctx.source), stage)


def time_big_upload(daemon: JagaDaemon, stage: Path) -> float:
    """Seconds from ``stage`` appearing in the watch (``.big.bin.part``, ignored, renamed to its final
    name: the usual upload pattern) to its replica verified."""
    daemon.start()
    try:
        incoming = daemon.uploads / ".big.bin.part"
        os.link(stage, incoming)
        settle_disk()
        began = time.time()
        os.rename(incoming, daemon.uploads / "big.bin")
        done = wait_until(lambda: daemon.verified()[0] >= 1, TIMEOUT, 0.05)
        return daemon.verified()[1] - began if done else float("inf")
    finally:
        daemon.stop()
