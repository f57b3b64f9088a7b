"""B'. sustained rate: 64 KiB files written in place in the watch at a steady rate, stepped up until the
backlog grows. One daemon per trial; each step writes ``seconds`` worth of files into a folder of its
own, then waits for the daemon to drain before the next step.

A step is sustained when, at the moment its last file is closed, fewer than half a second of its
arrivals are still unverified (a backlog that grows would keep growing). The figure is the highest
sustained step; the latency figure is the p99 close → verified of the 500 files/s step. A step the
writer itself could not keep to (5 % late) ends the climb too: that rate was not really offered."""

from __future__ import annotations

import os
import shutil

from bench.context import Context
from bench.jagaproc import JagaDaemon
from bench.report import Row
from bench.stats import median, percentile
from bench.util import fresh, wait_until
from bench.workload import KIB, specs, write_paced

RATES = (250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000)
LATENCY_AT = 500
BACKLOG_SECONDS = 0.5
DRAIN = 120.0


def run(ctx: Context, seconds: float, repeats: int) -> list[Row]:
    trials = [_trial(ctx, index, seconds) for index in range(repeats)]
    label = f"B' sustained (64 KiB files, steps of {seconds:g} s)"
    best = [trial["sustained"] for trial in trials]
    p99 = [trial["steps"][str(LATENCY_AT)]["p99_ms"] for trial in trials if str(LATENCY_AT) in trial["steps"]]
    return [
        Row(label, "highest rate without a growing backlog", "files/s", median(best), target="≥ 1,000 files/s",
            goal="abs>=", limit=1000.0, samples={"trials": trials}),
        Row(label, f"close→verified p99 at {LATENCY_AT} files/s", "ms", median(p99), target="≤ 100 ms",
            goal="abs<=", limit=100.0, samples={"trials": p99}),
    ]


def _trial(ctx: Context, index: int, seconds: float) -> dict:
    base = fresh(ctx.ws / f"B'{index}")
    daemon = JagaDaemon(base, ctx.source).start()
    steps, sustained = {}, 0
    try:
        for rate in RATES:
            step = _step(ctx, daemon, rate, seconds)
            steps[str(rate)] = step
            if not step["kept_up"]:
                break
            sustained = rate
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
    return {"sustained": sustained, "steps": steps}


def _step(ctx: Context, daemon: JagaDaemon, rate: int, seconds: float) -> dict:
    count = int(rate * seconds)
    folder = daemon.uploads / f"r{rate}"
    os.mkdir(folder)
    files = specs(count, 64 * KIB, 64 * KIB, seed=rate, prefix=f"r{rate}-")
    before = daemon.verified()[0]
    closed = write_paced(ctx.payload, str(folder), files, rate)
    backlog = before + count - daemon.verified()[0]   # arrivals not yet verified when the last one closed
    drained = wait_until(lambda: daemon.verified()[0] >= before + count, DRAIN, 0.1)
    verified = daemon.verified_times()
    latencies = [(verified.get(name, float("inf")) - when) * 1000 for name, when in closed.items()]
    written_in = max(closed.values()) - min(closed.values())
    return {"files": count, "backlog_at_end": backlog, "drained": bool(drained),
            "written_rate": (count - 1) / written_in if written_in > 0 else float("nan"),
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "kept_up": bool(drained) and backlog < rate * BACKLOG_SECONDS and written_in <= seconds * 1.05}
