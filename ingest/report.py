"""`jaga report`: how many proposals arrived, when, where, and how many are safe on every target."""

from __future__ import annotations

import csv
import json
import sys
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table

from journal import Journal


@dataclass
class IntakeRow:
    key: str
    new_files: int = 0
    revised_files: int = 0
    bytes: int = 0
    verified_everywhere: int = 0

    @property
    def files(self) -> int:
        return self.new_files + self.revised_files


def group_key(by: str, watch: str, path: bytes, completed_at: float) -> str:
    if by == "day":
        return datetime.fromtimestamp(completed_at).date().isoformat()  # the office's local day
    if by == "watch":
        return watch
    folder = path.split(b"/", 1)[0] if b"/" in path else b"(top level)"
    return f"{watch}/{folder.decode('utf-8', 'backslashreplace')}"


def build_report(journal: Journal, by: str, since: float | None, until: float | None) -> list[IntakeRow]:
    rows: dict[str, IntakeRow] = OrderedDict()
    for watch, path, number, size, completed_at, everywhere in journal.intake(since, until):
        key = group_key(by, watch, path, completed_at)
        row = rows.setdefault(key, IntakeRow(key))
        if number == 1:
            row.new_files += 1
        else:
            row.revised_files += 1
        row.bytes += size
        row.verified_everywhere += 1 if everywhere else 0
    return sorted(rows.values(), key=lambda r: r.key)


def parse_day(text: str | None, end: bool = False) -> float | None:
    """``2026-11-01`` (local midnight) or a full ISO time; ``--until`` takes the whole day given."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment.timestamp()


def report_command(config, args) -> int:
    journal = Journal(config.journal.url)
    journal.migrate()
    try:
        rows = build_report(journal, args.by, parse_day(args.since), parse_day(args.until, end=True))
    finally:
        journal.close()
    if args.json:
        doc = {"by": args.by, "since": args.since, "until": args.until,
               "rows": [{**asdict(r), "files": r.files} for r in rows],
               "total": _total(rows)}
        print(json.dumps(doc, indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow([args.by, "files", "new", "revised", "bytes", "verified_everywhere"])
        for r in rows:
            writer.writerow([r.key, r.files, r.new_files, r.revised_files, r.bytes, r.verified_everywhere])
    else:
        _table(rows, args.by)
    return 0


def _total(rows: list[IntakeRow]) -> dict:
    return {"files": sum(r.files for r in rows), "new_files": sum(r.new_files for r in rows),
            "revised_files": sum(r.revised_files for r in rows), "bytes": sum(r.bytes for r in rows),
            "verified_everywhere": sum(r.verified_everywhere for r in rows)}


def _table(rows: list[IntakeRow], by: str) -> None:
    table = Table(by, "files", "new", "revised", "MB", "safe on every target")
    for r in rows:
        table.add_row(r.key, str(r.files), str(r.new_files), str(r.revised_files), f"{r.bytes / 1e6:.1f}",
                      f"{r.verified_everywhere}/{r.files}")
    total = _total(rows)
    table.add_row("total", str(total["files"]), str(total["new_files"]), str(total["revised_files"]),
                  f"{total['bytes'] / 1e6:.1f}", f"{total['verified_everywhere']}/{total['files']}")
    Console().print(table)


