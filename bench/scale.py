"""D. scale: a journal of ten million files, a million of them on disk. Restart until the startup
reconcile is done, the daemon's peak RSS, and how long one /metrics scrape takes.

The tree and the journal come from bench.journalgen's cache (generated once per schema); every
trial starts from a fresh copy of the journal, with the page cache warm."""

from __future__ import annotations

import time
from pathlib import Path

from bench import journalgen
from bench.context import Context
from bench.jagaproc import WATCH, JagaDaemon
from bench.report import Row
from bench.stats import median
from bench.util import fresh, settle_disk

TIMEOUT = 600.0
SCRAPES = 10


def run(ctx: Context, total: int, on_disk: int, repeats: int, cache: Path) -> list[Row]:
    began = time.monotonic()
    made = journalgen.cached(cache, ctx.source, total, on_disk)
    built = time.monotonic() - began
    trials = [_restart(ctx, made) for _ in range(repeats)]
    label = f"D scale ({total:,} journalled, {on_disk:,} on disk)"
    restart = [t["restart_s"] for t in trials]
    rss = [t["peak_rss_mb"] for t in trials]
    scrape = [t["scrape_ms"] for t in trials]
    extra = {"journal_ready_s": built, "trials": trials}
    return [
        Row(label, "restart until reconciled", "s", median(restart), target="≤ 60 s", goal="abs<=", limit=60.0,
            samples=extra),
        Row(label, "peak RSS", "MB", median(rss), target="≤ 150 MB", goal="abs<=", limit=150.0,
            samples={"trials": rss}),
        Row(label, "one /metrics scrape", "ms", median(scrape), target="≤ 20 ms", goal="abs<=", limit=20.0,
            samples={"trials": scrape}),
    ]


def _restart(ctx: Context, made: journalgen.Generated) -> dict:
    """Start the daemon on a copy of the big journal; time until the startup reconcile has been counted."""
    daemon = JagaDaemon(fresh(ctx.ws / "D"), ctx.source, extra={"watch": [{"path": str(made.tree), "name": WATCH}]})
    made.copy_state(daemon.journal_path, daemon.replica)
    settle_disk()
    _warm(made.tree)
    began = time.monotonic()
    daemon.spawn()
    try:
        daemon.wait(lambda: (daemon.metric("jaga_reconcile_scans_total", 'reason="startup"') or 0) >= 1,
                    TIMEOUT, "the startup reconcile", interval=0.1)
        restart = time.monotonic() - began
        scrapes = [daemon.timed_scrape()[0] * 1000 for _ in range(SCRAPES)]
        rss = daemon.peak_rss() / 1e6
    finally:
        daemon.stop()
    return {"restart_s": restart, "peak_rss_mb": rss, "scrape_ms": median(scrapes), "scrapes_ms": scrapes}


def _warm(tree: Path) -> None:
    """Read the tree's folders once, so every trial starts with the same warm dentry cache."""
    for folder in tree.iterdir():
        for entry in folder.iterdir():
            entry.lstat()
