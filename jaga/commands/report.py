"""Intake from the journal: new and revised files, bytes, and how many are verified on every target,
per local day (the machine's time zone, or $TZ), watch or top-level folder, with a total; or per node
of a fleet that shares the journal. As a table, JSON, CSV (--sep ';' for a
spreadsheet whose list separator is a semicolon, as in Indonesian ones) or an .xlsx workbook.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from jaga.commands import OK, UsageError, add_command
from jaga.commands.dates import HELP, parse_moment
from jaga.writer import open_journal


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "report", run,
                         "intake: files and bytes per day, watch or folder", __doc__,
                         {OK: "the report is printed or written"})
    parser.add_argument("--since", metavar="DAY", help=f"from this day (its midnight) or time on: {HELP}")
    parser.add_argument("--until", metavar="DAY", help=f"up to this time, or to the end of this day: {HELP}")
    parser.add_argument("--by", choices=["day", "watch", "folder", "node"], default="day",
                        help="one row per local day, watch or top-level folder of this node, or per node of "
                             "the fleet sharing the journal (default day)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print CSV instead of a table (the last row is the total)")
    fmt.add_argument("--xlsx", metavar="FILE", type=Path,
                     help="write an Excel/LibreOffice workbook to FILE: real date and number cells, a total row")
    parser.add_argument("--sep", metavar="CHAR", help="with --csv: the column separator, e.g. ';' for a "
                        "spreadsheet set to Indonesian; the file then starts with a UTF-8 BOM so names keep "
                        "their accents (default ',' and no BOM)")
    parser.add_argument("--lang", choices=["en", "id"], help="column headers' language for --csv and --xlsx "
                        "(default: ui.language when it is en or id, else id when $LANG starts with id, else en)")


def run(config, args) -> int:
    if args.sep is not None and not args.csv:
        raise UsageError("--sep goes with --csv")
    if args.sep is not None and len(args.sep) != 1:
        raise UsageError(f"--sep {args.sep!r}: one character, e.g. ';'")
    since, until = parse_moment(args.since, "--since"), parse_moment(args.until, "--until", end_of_day=True)
    from ingest.report import build_report, totals  # with the journal's SQLAlchemy: only for a report
    journal = open_journal(config)
    journal.migrate()
    try:
        rows = build_report(journal, args.by, since, until)
    finally:
        journal.close()
    language = args.lang or _language(config)
    if args.json:
        _print_json(rows, totals(rows), args)
    elif args.csv:
        from jaga.export import write_csv
        write_csv(sys.stdout, rows, args.by, language, args.sep or ",", bom=args.sep is not None)
    elif args.xlsx:
        from jaga.export import write_xlsx
        write_xlsx(args.xlsx, rows, args.by, language)
        print(f"wrote {args.xlsx}: {len(rows)} row(s) and a total")
    else:
        _print_table(rows, totals(rows), args.by)
    return OK


def _print_json(rows, total: dict, args) -> None:
    doc = {"by": args.by, "since": args.since, "until": args.until,
           "rows": [{**asdict(r), "files": r.files} for r in rows], "total": total}
    print(json.dumps(doc, indent=2))


def _language(config) -> str:
    if config.ui.language in ("en", "id"):
        return config.ui.language
    return "id" if os.environ.get("LANG", "").lower().startswith("id") else "en"


def _print_table(rows, total: dict, by: str) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(by, "files", "new", "revised", "MB", "safe on every target")
    for r in rows:
        table.add_row(r.key, str(r.files), str(r.new_files), str(r.revised_files), f"{r.bytes / 1e6:.1f}",
                      f"{r.verified_everywhere}/{r.files}")
    table.add_row("total", str(total["files"]), str(total["new_files"]), str(total["revised_files"]),
                  f"{total['bytes'] / 1e6:.1f}", f"{total['verified_everywhere']}/{total['files']}")
    Console().print(table)
