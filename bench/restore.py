"""R. restore: the operator's 3 a.m. command, `jaga restore --from secondary --to DIR`, against a plain
`cp -r` of the same replica tree followed by `sync` (which checks nothing and is not atomic per file)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from bench.context import Context
from bench.jagaproc import JagaDaemon, WATCH
from bench.report import Row
from bench.stats import median
from bench.util import fresh, settle_disk
from bench.workload import MIB, specs, write_tree


def run(ctx: Context, files: int, repeats: int) -> list[Row]:
    base = fresh(ctx.ws / "R")
    daemon = JagaDaemon(base, ctx.source)
    tree = specs(files, 64 * 1024, 1024 * 1024, seed=7, prefix="r")
    write_tree(ctx.payload, str(daemon.uploads), tree, per_dir=200)
    subprocess.run([sys.executable, "-m", "jaga", "-c", str(daemon.config), "sync"], check=True,
                   cwd=ctx.source, stdout=subprocess.DEVNULL)
    total = sum(spec.size for spec in tree) / MIB
    results = {"jaga": [], "cp -r + sync": []}
    for index in range(repeats):
        settle_disk()
        results["cp -r + sync"].append(total / _cp(daemon, base / f"cp{index}"))
        settle_disk()
        results["jaga"].append(total / _restore(ctx, daemon, base / f"restored{index}"))
    shutil.rmtree(base)
    return [Row(f"R restore ({files} files, {total:.0f} MiB)", "throughput, every file hash-checked", "MiB/s",
                median(results["jaga"]), median(results["cp -r + sync"]), "cp -r + sync", "≥ 0.8 × cp -r+sync",
                "ratio>=", 0.8, results)]


def _cp(daemon: JagaDaemon, dest) -> float:
    began = time.monotonic()
    subprocess.run(["cp", "-r", str(daemon.replica / WATCH), str(dest)], check=True)
    subprocess.run(["sync"], check=True)
    elapsed = time.monotonic() - began
    shutil.rmtree(dest)
    return elapsed


def _restore(ctx: Context, daemon: JagaDaemon, dest) -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "jaga", "-c", str(daemon.config), "restore", "--from", "secondary",
                    "--to", str(dest)], check=True, cwd=ctx.source, stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - began
    shutil.rmtree(dest)
    return elapsed
