"""Soak: a steady stream for many minutes; the daemon's RSS and open file descriptors must stay flat
(a leak shows as a slope, not as a big number). Not part of the default run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil

from bench.context import Context
from bench.jagaproc import JagaDaemon
from bench.report import Row
from bench.util import fresh, wait_until
from bench.workload import KIB, Payload, specs, write_paced

SAMPLE_EVERY = 10.0
WARMUP = 60.0
PER_DIR = 3000


def run(ctx: Context, minutes: float, rate: float) -> list[Row]:
    payload = ctx.payload
    count = int(minutes * 60 * rate)
    files = specs(count, 16 * KIB, 64 * KIB, seed=44, prefix="s")
    daemon = JagaDaemon(fresh(ctx.ws / "soak"), ctx.source).start()
    try:
        writer = threading.Thread(target=_write, args=(payload, daemon.uploads, files, rate), daemon=True)
        writer.start()
        samples = _sample(psutil.Process(daemon.process.pid), daemon, writer)
        drained = wait_until(lambda: daemon.verified()[0] >= count, 300, 0.5)
    finally:
        daemon.stop()
    return _rows(samples, count, rate, minutes, bool(drained))


def _write(payload: Payload, uploads: Path, files, rate: float) -> None:
    """Folders of PER_DIR files, as an upload app sorting by day would make them."""
    start = time.monotonic()
    for offset in range(0, len(files), PER_DIR):
        folder = uploads / f"day{offset // PER_DIR:03d}"
        folder.mkdir()
        delay = start + offset / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        write_paced(payload, str(folder), files[offset:offset + PER_DIR], rate)


def _sample(process: psutil.Process, daemon: JagaDaemon, writer: threading.Thread) -> list[dict]:
    began = time.monotonic()
    samples = []
    while writer.is_alive():
        time.sleep(SAMPLE_EVERY)
        samples.append({"t": time.monotonic() - began, "rss_mb": process.memory_info().rss / 1e6,
                        "fds": process.num_fds(), "verified": daemon.verified()[0]})
        print(f"  soak {samples[-1]}", flush=True)
    return samples


def _rows(samples: list[dict], count: int, rate: float, minutes: float, drained: bool) -> list[Row]:
    warm = next((s for s in samples if s["t"] >= WARMUP), samples[0])
    last = samples[-1]
    label = f"soak ({minutes:g} min at {rate:g} files/s)"
    return [
        Row(label, "RSS at end vs after 1 min", "MB", last["rss_mb"], warm["rss_mb"], "same daemon at 1 min",
            "≤ 1.1 × (flat)", "ratio<=", 1.1, {"series": samples}),
        Row(label, "open fds at end vs after 1 min", "fds", last["fds"], warm["fds"], "same daemon at 1 min",
            "≤ 1.1 × (flat)", "ratio<=", 1.1),
        Row(label, "all replicas verified after the stream", "files", float(last["verified"] if not drained
                                                                              else count), float(count),
            "files written", "= 1.0", "ratio>=", 1.0),
    ]
