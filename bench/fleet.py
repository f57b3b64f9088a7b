"""``python -m bench.fleet``: a fleet of 1, 2 and 3 nodes on one PostgreSQL journal on this machine.

Each node is a real daemon with its own upload folder and local target (configs identical apart from
``node``). A burst of files is staged in every node's watch (in an ignored dot-folder, older than the
settle window) and renamed in on all nodes at once; the clock runs until the last replica of every
node is verified. Reported: the fleet's files/s, and the journal rows/s PostgreSQL took meanwhile
(inserted + updated tuples of the journal's database, from pg_stat_database, read once the
daemons stopped: a backend reports its counts when it exits).

    python -m bench.fleet [--files 1000] [--nodes 1,2,3] [--size 16384]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.jagaproc import JagaDaemon
from bench.util import settle_disk
from tests.postgres import PostgresCluster, unavailable_reason

SETTLE = 2.0  # jaga's default ingest.settle
TIMEOUT = 900.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files per node (default 1000)")
    parser.add_argument("--size", type=int, default=16 * 1024, help="bytes per file (default 16384)")
    parser.add_argument("--nodes", default="1,2,3", help="fleet sizes to run (default 1,2,3)")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="jaga-bench-fleet-"))
    cluster = PostgresCluster().start()
    try:
        print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
        print("| nodes | files | seconds | fleet files/s | journal rows/s |")
        print("|---|---|---|---|---|")
        for count in (int(n) for n in args.nodes.split(",")):
            url = cluster.create_database(f"fleet{count}")
            seconds, rows = run_fleet(work / f"n{count}", url, count, args.files, args.size)
            total = count * args.files
            print(f"| {count} | {total} | {seconds:.1f} | {total / seconds:.0f} | {rows / seconds:.0f} |", flush=True)
        print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run_fleet(base: Path, url: str, count: int, files: int, size: int) -> tuple[float, int]:
    """Seconds from the drop to the last verified replica of every node, and journal rows written."""
    nodes = [JagaDaemon(base / f"srv-{i}", extra={"node": f"srv-{i}", "journal": {"url": url}})
             for i in range(count)]
    engine = create_engine(url, pool_size=1)
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            stage(node.uploads / ".staging" / "burst", files, size)
        settle_disk()
        time.sleep(SETTLE + 0.5)
        before = written_rows(engine)
        began = time.monotonic()
        for node in nodes:
            os.rename(node.uploads / ".staging" / "burst", node.uploads / "burst")
        deadline = began + TIMEOUT
        while verified(engine) < count * files:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} node(s): not every replica verified within {TIMEOUT:.0f}s")
            time.sleep(0.1)
        seconds = time.monotonic() - began
        for node in nodes:  # a backend flushes its statistics when it exits (or within 10 s idle)
            node.stop()
        time.sleep(1.0)
        return seconds, written_rows(engine) - before
    finally:
        for node in nodes:
            node.stop()
        engine.dispose()


def stage(folder: Path, files: int, size: int) -> None:
    folder.mkdir(parents=True)
    payload = os.urandom(size)
    for index in range(files):
        (folder / f"f{index:06d}.pdf").write_bytes(payload[index % 64:] + payload[:index % 64])


def verified(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM replicas WHERE state = 'verified'")).scalar()


def written_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT tup_inserted + tup_updated FROM pg_stat_database "
                                 "WHERE datname = current_database()")).scalar()


if __name__ == "__main__":
    sys.exit(main())
