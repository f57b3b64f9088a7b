"""A. steady uploads: files of 64 KiB–1 MiB at a fixed rate; latency from close() to the replica's
final name appearing (inotify on the replica folder) and to ``verified`` in the journal."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from bench.context import Context
from bench.inotify import AppearanceWatcher
from bench.jagaproc import JagaDaemon
from bench.peers import Lsyncd
from bench.report import Row
from bench.stats import median, summary
from bench.util import fresh, settle_disk, wait_until
from bench.workload import KIB, MIB, Payload, specs, write_paced

DRAIN = 120.0  # seconds after the last write before a missing replica counts as lost


def run(ctx: Context, count: int, rate: float, repeats: int) -> list[Row]:
    ws, payload = ctx.ws, ctx.payload
    files = specs(count, 64 * KIB, MIB, seed=11)
    trials = {"visible": [], "verified": [], "lsyncd": []}
    for index in range(repeats):
        visible, verified = _jaga(ctx, fresh(ws / f"A{index}-jaga"), files, rate)
        trials["visible"].append(visible)
        trials["verified"].append(verified)
        settle_disk()
        trials["lsyncd"].append(_lsyncd(fresh(ws / f"A{index}-lsyncd"), payload, files, rate))
        settle_disk()
    return _rows(trials, count, rate)


def _latencies(closed: dict[str, float], arrived: dict[str, float]) -> list[float]:
    """Seconds per file; a file that never arrived counts as infinitely late."""
    return [arrived.get(name, math.inf) - when for name, when in closed.items()]


def _jaga(ctx: Context, base: Path, files, rate: float) -> tuple[dict, dict]:
    daemon = JagaDaemon(base, ctx.source).start()
    try:
        with AppearanceWatcher(str(daemon.replica_data)) as watcher:
            closed = write_paced(ctx.payload, str(daemon.uploads), files, rate)
            wait_until(lambda: watcher.count() >= len(files) and daemon.verified()[0] >= len(files), DRAIN, 0.1)
        verified = daemon.verified_times()
    finally:
        daemon.stop()
    shutil.rmtree(base)
    return summary(_latencies(closed, watcher.seen)), summary(_latencies(closed, verified))


def _lsyncd(base: Path, payload: Payload, files, rate: float) -> dict:
    peer = Lsyncd(base, base / "src", base / "dst").start()
    try:
        with AppearanceWatcher(str(peer.target)) as watcher:
            closed = write_paced(payload, str(peer.source), files, rate)
            wait_until(lambda: watcher.count() >= len(files), DRAIN, 0.1)
    finally:
        peer.stop()
    shutil.rmtree(base)
    return summary(_latencies(closed, watcher.seen))


def _rows(trials: dict, count: int, rate: float) -> list[Row]:
    rows = []
    label = f"A steady ({count} files, {rate:g}/s)"
    for pct in ("p50", "p90", "p99"):
        peer = median([t[pct] for t in trials["lsyncd"]]) * 1000
        goal = ("ratio<", 1.0) if pct in ("p50", "p99") else ("", None)
        target = "< lsyncd" if goal[1] else ""
        for kind in ("visible", "verified"):
            per_trial = [t[pct] * 1000 for t in trials[kind]]
            rows.append(Row(label, f"close→{kind} {pct}", "ms", median(per_trial), peer, "lsyncd close→visible",
                            target, goal[0], goal[1],
                            samples={"jaga": per_trial, "peer": [t[pct] * 1000 for t in trials["lsyncd"]]}))
    return rows
