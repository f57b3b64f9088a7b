"""Intake from the journal: new and revised files, bytes, and how many are verified on every target,
per local day, watch or top-level folder.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict

from ingest.report import build_report, totals
from jaga.commands import OK, add_command
from jaga.commands.dates import HELP, parse_moment
from journal import Journal


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "report", run,
                         "intake: files and bytes per day, watch or folder", __doc__)
    parser.add_argument("--since", metavar="DAY", help=f"from this day (its midnight) or time on: {HELP}")
    parser.add_argument("--until", metavar="DAY", help=f"up to this time, or to the end of this day: {HELP}")
    parser.add_argument("--by", choices=["day", "watch", "folder"], default="day",
                        help="one row per local day, watch or top-level folder (default day)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print CSV instead of a table")


def run(config, args) -> int:
    since, until = parse_moment(args.since, "--since"), parse_moment(args.until, "--until", end_of_day=True)
    journal = Journal(config.journal.url)
    journal.migrate()
    try:
        rows = build_report(journal, args.by, since, until)
    finally:
        journal.close()
    if args.json:
        _print_json(rows, args)
    elif args.csv:
        _print_csv(rows, args.by)
    else:
        _print_table(rows, args.by)
    return OK


def _print_json(rows, args) -> None:
    doc = {"by": args.by, "since": args.since, "until": args.until,
           "rows": [{**asdict(r), "files": r.files} for r in rows], "total": totals(rows)}
    print(json.dumps(doc, indent=2))


def _print_csv(rows, by: str) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow([by, "files", "new", "revised", "bytes", "verified_everywhere"])
    for r in rows:
        writer.writerow([r.key, r.files, r.new_files, r.revised_files, r.bytes, r.verified_everywhere])


def _print_table(rows, by: str) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(by, "files", "new", "revised", "MB", "safe on every target")
    for r in rows:
        table.add_row(r.key, str(r.files), str(r.new_files), str(r.revised_files), f"{r.bytes / 1e6:.1f}",
                      f"{r.verified_everywhere}/{r.files}")
    total = totals(rows)
    table.add_row("total", str(total["files"]), str(total["new_files"]), str(total["revised_files"]),
                  f"{total['bytes'] / 1e6:.1f}", f"{total['verified_everywhere']}/{total['files']}")
    Console().print(table)
