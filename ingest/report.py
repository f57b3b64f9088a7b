"""`jaga report`: how many proposals arrived, when, where, and how many are safe on every target.

Returns rows; `jaga.commands.report` prints them as a table, JSON or CSV.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

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


def group_key(by: str, node: str, watch: str, path: bytes, completed_at: float) -> str:
    if by == "node":
        return node
    if by == "day":
        return datetime.fromtimestamp(completed_at).date().isoformat()  # the office's local day
    if by == "watch":
        return watch
    folder = path.split(b"/", 1)[0] if b"/" in path else b"(top level)"
    return f"{watch}/{folder.decode('utf-8', 'backslashreplace')}"


def build_report(journal: Journal, by: str, since: float | None, until: float | None) -> list[IntakeRow]:
    """``by`` "node": every node of the fleet, one row each; otherwise this node's intake."""
    rows: dict[str, IntakeRow] = OrderedDict()
    for node, watch, path, number, size, completed_at, everywhere in journal.intake(since, until,
                                                                                    every_node=by == "node"):
        key = group_key(by, node, watch, path, completed_at)
        row = rows.setdefault(key, IntakeRow(key))
        if number == 1:
            row.new_files += 1
        else:
            row.revised_files += 1
        row.bytes += size
        row.verified_everywhere += 1 if everywhere else 0
    return sorted(rows.values(), key=lambda r: r.key)


def totals(rows: list[IntakeRow]) -> dict:
    """The sums over all rows (the JSON's and the table's "total")."""
    return {"files": sum(r.files for r in rows), "new_files": sum(r.new_files for r in rows),
            "revised_files": sum(r.revised_files for r in rows), "bytes": sum(r.bytes for r in rows),
            "verified_everywhere": sum(r.verified_everywhere for r in rows)}
