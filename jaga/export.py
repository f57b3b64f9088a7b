"""The intake report as a spreadsheet a clerk opens: .xlsx (openpyxl), or CSV with the separator the
spreadsheet's locale uses (Indonesian spreadsheets split on ';') and a UTF-8 BOM so folder names with
accents survive; headers in the office's language, real dates and numbers, and a total row."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import TextIO

from ingest.report import IntakeRow, totals

HEADERS = {
    "en": {"day": "day", "node": "node", "watch": "watch", "folder": "folder", "files": "files", "new": "new",
           "revised": "revised", "bytes": "bytes", "safe": "verified_everywhere", "total": "total",
           "sheet": "Intake"},
    "id": {"day": "tanggal", "node": "server", "watch": "folder pantauan", "folder": "folder", "files": "berkas", "new": "baru",
           "revised": "revisi", "bytes": "byte", "safe": "aman di semua target", "total": "jumlah",
           "sheet": "Berkas masuk"},
}
COLUMNS = ("files", "new", "revised", "bytes", "safe")


def table(rows: list[IntakeRow], by: str, language: str) -> list[list]:
    """Header, one row per group, the total row: the cells every export writes."""
    words = HEADERS[language]
    total = totals(rows)
    cells = [[words[by], *(words[c] for c in COLUMNS)]]
    cells += [[_key(r.key, by), r.files, r.new_files, r.revised_files, r.bytes, r.verified_everywhere] for r in rows]
    cells.append([words["total"], total["files"], total["new_files"], total["revised_files"], total["bytes"],
                  total["verified_everywhere"]])
    return cells


def write_csv(out: TextIO, rows: list[IntakeRow], by: str, language: str, sep: str, bom: bool) -> None:
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n" if bom else "\n")
    for line in table(rows, by, language):
        writer.writerow(d.isoformat() if isinstance(d, date) else d for d in line)


def write_xlsx(path: Path, rows: list[IntakeRow], by: str, language: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = HEADERS[language]["sheet"]
    for line in table(rows, by, language):
        sheet.append(line)
    bold = Font(bold=True)
    for cell in (*sheet[1], *sheet[sheet.max_row]):
        cell.font = bold
    if by == "day":
        for (cell,) in sheet.iter_rows(min_row=2, max_row=sheet.max_row - 1, max_col=1):
            cell.number_format = "DD/MM/YYYY" if language == "id" else "YYYY-MM-DD"
    for column, width in zip("ABCDEF", (max(12, *(len(str(r.key)) + 2 for r in rows)) if rows else 12,
                                         10, 10, 10, 16, 22)):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    book.save(path)


def _key(key: str, by: str):
    """A day is a real date cell, not text a spreadsheet may misread (01/12 as January)."""
    return date.fromisoformat(key) if by == "day" else key
