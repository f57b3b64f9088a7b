"""Where a burst's time goes, without a profiler: ``python -m bench.burst_cpu [trials]``.

Runs B's burst (10,000 × 64 KiB renamed into the watch) against the working tree and prints, per
trial, the seconds until all are verified and the CPU the daemon and the machine spent meanwhile
(user, system, iowait, idle). Round 7 in docs/performance.md was read from it, with ``perf record -g``
and py-spy attached to the same daemon."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

from bench.burst import SETTLE, drop
from bench.jagaproc import REPO, JagaDaemon
from bench.util import fresh, settle_disk, wait_until
from bench.workload import KIB, Payload, specs, write_tree

COUNT = 10000


def trial(base: Path, stage: Path) -> str:
    daemon = JagaDaemon(fresh(base / "jaga"), REPO).start()
    try:
        process = psutil.Process(daemon.process.pid)
        began = drop(stage, daemon.uploads / ".staging" / "burst", daemon.uploads / "burst", SETTLE + 0.5)
        mine, machine = process.cpu_times(), psutil.cpu_times()
        wait_until(lambda: daemon.verified()[0] >= COUNT, 900, 0.1)
        done = daemon.verified()[1] - began
        mine_after, machine_after = process.cpu_times(), psutil.cpu_times()
    finally:
        daemon.stop()
    spent = {key: getattr(machine_after, key) - getattr(machine, key) for key in ("user", "system", "iowait", "idle")}
    return (f"burst {done:.2f} s; daemon user {mine_after.user - mine.user:.2f} s, system "
            f"{mine_after.system - mine.system:.2f} s; machine " + ", ".join(f"{k} {v:.2f} s" for k, v in spent.items()))


def main(trials: int) -> None:
    base = fresh(REPO / "var" / "bench-burst-cpu")
    stage = base / "stage" / "burst"
    stage.mkdir(parents=True)
    write_tree(Payload(), str(stage), specs(COUNT, 64 * KIB, 64 * KIB, seed=22, prefix="b"))
    settle_disk()
    for _ in range(trials):
        print(trial(base, stage), flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
