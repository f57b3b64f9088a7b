"""``python -m bench [--quick] [--only A,B,C,D] [--repeats N]`` and ``python -m bench soak``."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import bigfile, burst, churn, listener, restore, s3_upload, scale, sftp_burst, soak, steady, sustained
from bench.context import Context, describe, export
from bench.jagaproc import REPO
from bench.report import Row, markdown, save
from bench.workload import MIB, Payload


@dataclass(frozen=True)
class Sizes:
    steady_files: int
    steady_rate: float
    burst_files: int
    big_bytes: int
    journal_files: int
    disk_files: int
    repeats: int
    restore_files: int = 2000
    churn_ops: int = 9000
    churn_rate: float = 300.0
    sustained_seconds: float = 10.0   # B': length of each rate step
    remote_files: int = 2000          # S1, S2: files in the burst
    remote_big_bytes: int = 256 * MIB  # S2: the one big object


FULL = Sizes(2000, 100.0, 10_000, 1024 * MIB, 10_000_000, 1_000_000, 3, 2000, 9000, 300.0, 10.0, 2000, 256 * MIB)
QUICK = Sizes(200, 100.0, 1000, 64 * MIB, 20_000, 5_000, 1, 200, 3000, 300.0, 2.0, 200, 32 * MIB)
WORKLOADS = "A,B,B',C,D,R,S1,S2,L,CHURN"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("mode", nargs="?", choices=["all", "soak"], default="all")
    parser.add_argument("--quick", action="store_true", help="small smoke sizes, one repeat")
    parser.add_argument("--only", default=WORKLOADS, help="workloads to run, e.g. A,B (B' or B2: sustained rate, "
                        "R: restore, S1: SFTP, S2: S3, L: the listener, CHURN: lag under churn)")
    parser.add_argument("--repeats", type=int, help="trials per workload (median reported)")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length")
    parser.add_argument("--rate", type=float, default=50.0, help="soak files per second")
    parser.add_argument("--workdir", type=Path, default=REPO / "var",
                        help="where scratch trees go (a real disk, not tmpfs)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--rev", help="measure this git revision (exported) instead of the working tree")
    return parser.parse_args(argv)


def workloads(args: argparse.Namespace, sizes: Sizes, ctx: Context) -> dict:
    """Name → a thunk running it, in the order they run."""
    if args.mode == "soak":
        return {"soak": lambda: soak.run(ctx, args.minutes, args.rate)}
    table = {
        "A": lambda: steady.run(ctx, sizes.steady_files, sizes.steady_rate, sizes.repeats),
        "B": lambda: burst.run(ctx, sizes.burst_files, sizes.repeats),
        "B'": lambda: sustained.run(ctx, sizes.sustained_seconds, sizes.repeats),
        "C": lambda: bigfile.run(ctx, sizes.big_bytes, sizes.repeats),
        "D": lambda: scale.run(ctx, sizes.journal_files, sizes.disk_files, sizes.repeats, args.workdir / "bench-cache"),
        "R": lambda: restore.run(ctx, sizes.restore_files, sizes.repeats),
        "S1": lambda: sftp_burst.run(ctx, sizes.remote_files, sizes.repeats),
        "S2": lambda: s3_upload.run(ctx, sizes.remote_files, sizes.remote_big_bytes, sizes.repeats),
        "L": lambda: listener.run(ctx, sizes.repeats),
        "CHURN": lambda: churn.run(ctx, sizes.churn_ops, sizes.churn_rate, sizes.repeats),
    }
    chosen = [name.strip().upper().replace("B2", "B'") for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in table]
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(unknown)} (choose from {', '.join(table)})")
    return {name: table[name] for name in chosen}


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    sizes = QUICK if args.quick else FULL
    if args.repeats:
        sizes = Sizes(**{**asdict(sizes), "repeats": args.repeats})
    args.workdir.mkdir(parents=True, exist_ok=True)
    ws = Path(tempfile.mkdtemp(prefix="bench-", dir=args.workdir))
    rows: list[Row] = []
    failed = []
    measured = describe(REPO, args.rev)
    print(f"measuring jaga from the {measured}; scratch in {ws}", flush=True)
    try:
        source = export(REPO, args.rev, ws / "source") if args.rev else REPO
        for name, thunk in workloads(args, sizes, Context(ws, Payload(), source)).items():
            began = time.monotonic()
            print(f"== {name} ...", flush=True)
            try:
                rows += thunk()
            except Exception:
                traceback.print_exc()
                failed.append(name)
            print(f"== {name} took {time.monotonic() - began:.0f}s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(ws, ignore_errors=True)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    json_path, md_path = save(rows, command.strip(), {**asdict(sizes), "failed": failed, "measured": measured})
    print("\n" + markdown(rows) + "\n")
    print(f"results: {json_path} and {md_path}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
