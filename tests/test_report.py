"""`jaga report` answers the office's question: how many proposals arrived, and are they safe."""

import csv
import io
import json

from tests.harness import write_file


def test_report_counts_new_and_revised_files_per_folder_and_day(deployment):
    for folder, count in (("hibah", 3), ("bansos", 2)):
        for i in range(count):
            write_file(deployment.uploads / folder / f"p{i}.pdf", b"x" * (100 * (i + 1)))
    write_file(deployment.uploads / "loose.pdf", b"y")
    assert deployment.cli("sync").returncode == 0
    (deployment.uploads / "hibah" / "p0.pdf").write_bytes(b"revised!")
    assert deployment.cli("sync").returncode == 0

    by_folder = json.loads(deployment.cli("report", "--by", "folder", "--json").stdout)
    rows = {r["key"]: r for r in by_folder["rows"]}
    assert rows["uploads/hibah"]["new_files"] == 3 and rows["uploads/hibah"]["revised_files"] == 1
    assert rows["uploads/bansos"]["files"] == 2 and rows["uploads/bansos"]["bytes"] == 300
    assert rows["uploads/(top level)"]["files"] == 1
    assert by_folder["total"] == {"files": 7, "new_files": 6, "revised_files": 1, "bytes": 100 + 200 + 300 + 100
                                  + 200 + 1 + 8, "verified_everywhere": 7}

    by_day = json.loads(deployment.cli("report", "--json").stdout)
    assert len(by_day["rows"]) == 1 and by_day["rows"][0]["files"] == 7

    csv_rows = list(csv.reader(io.StringIO(deployment.cli("report", "--by", "watch", "--csv").stdout)))
    assert csv_rows[0][:2] == ["watch", "files"] and csv_rows[1][:2] == ["uploads", "7"]


def test_report_since_and_until_bound_the_days(deployment):
    write_file(deployment.uploads / "a.pdf", b"a")
    assert deployment.cli("sync").returncode == 0
    empty = json.loads(deployment.cli("report", "--since", "2999-01-01", "--json").stdout)
    assert empty["rows"] == [] and empty["total"]["files"] == 0
    old = json.loads(deployment.cli("report", "--until", "2000-01-01", "--json").stdout)
    assert old["total"]["files"] == 0
    text = deployment.cli("report").stdout
    assert "total" in text and "1/1" in text


def test_a_file_not_yet_on_every_target_is_not_counted_safe(deployment):
    write_file(deployment.uploads / "a.pdf", b"a")
    assert deployment.cli("sync").returncode == 0
    (deployment.replica / ".jaga-target").unlink()
    write_file(deployment.uploads / "b.pdf", b"b")
    deployment.cli("sync")
    total = json.loads(deployment.cli("report", "--json").stdout)["total"]
    assert total["files"] == 2 and total["verified_everywhere"] == 1


def test_the_spreadsheet_exports_open_in_an_indonesian_spreadsheet(deployment):
    """An Indonesian spreadsheet splits CSV on ';' and reads it as UTF-8 only after a BOM; the .xlsx
    carries real dates and numbers. Both are read back: openpyxl for the workbook, csv for the text."""
    from datetime import date, datetime

    from openpyxl import load_workbook
    for i, folder in enumerate(("hibah", "bansos", "bansos")):
        write_file(deployment.uploads / folder / f"usulan-{i}.pdf", b"x" * (10 * (i + 1)))
    write_file(deployment.uploads / "Désa Cibodas" / "proposal.pdf", b"accent")
    assert deployment.cli("sync").returncode == 0

    result = deployment.cli("report", "--by", "folder", "--csv", "--sep", ";", "--lang", "id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(result.stdout.removeprefix("\ufeff")), delimiter=";"))
    assert lines[0] == ["folder", "berkas", "baru", "revisi", "byte", "aman di semua target"]
    assert ["uploads/bansos", "2", "2", "0", "50", "2"] in lines
    assert ["uploads/Désa Cibodas", "1", "1", "0", "6", "1"] in lines
    assert lines[-1] == ["jumlah", "4", "4", "0", "66", "4"]

    book_path = deployment.base / "laporan.xlsx"
    result = deployment.cli("report", "--xlsx", str(book_path), "--lang", "id")
    assert result.returncode == 0, result.stderr
    sheet = load_workbook(book_path).active
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert sheet.title == "Berkas masuk"
    assert cells[0] == ["tanggal", "berkas", "baru", "revisi", "byte", "aman di semua target"]
    [day] = cells[1:-1]
    assert isinstance(day[0], datetime) and day[0].date() == date.today() and day[1:] == [4, 4, 0, 66, 4]
    assert sheet.cell(row=2, column=1).number_format == "DD/MM/YYYY"
    assert cells[-1] == ["jumlah", 4, 4, 0, 66, 4] and sheet.cell(row=3, column=1).font.bold

    refused = deployment.cli("report", "--sep", ";")
    assert refused.returncode == 2 and refused.stderr.strip() == "jaga: --sep goes with --csv"
