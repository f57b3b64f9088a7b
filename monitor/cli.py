"""``jaga disks``: poll SMART now and print what each disk says.

It reads the journal neither for nor against the daemon: no samples are stored, so the daemon's
"rose since the previous poll" comparisons stay between its own polls.
"""

from __future__ import annotations

import json

from monitor.report import DiskReport
from monitor.smart import SmartPoller

STYLE = {"ok": "green", "warning": "yellow", "failing": "bold red", "unknown": "magenta"}
JSON_FIELDS = ("device", "path", "model", "serial", "firmware", "interface", "health", "reasons",
               "temperature_c", "exit_status", "exit_status_meanings", "source")


def disks_command(config, as_json: bool, console=None) -> int:
    """Exit 0 when every disk is ok, 1 when any is warning, failing or unknown (or none was found)."""
    result = SmartPoller(config.monitor.smart).poll()
    reports = result.reports
    if as_json:
        _print_json(reports, result.scan_error, console)
    else:
        _print_table(reports, result.scan_error, console)
    healthy = not result.scan_error and all(report.health == "ok" for report in reports)
    return 0 if healthy else 1


def disk_json(report: DiskReport) -> dict:
    data = report.to_json()
    summary = {name: data[name] for name in JSON_FIELDS}
    summary["nvme"] = data["nvme"]
    summary["scsi_grown_defects"] = data["scsi_grown_defects"]
    summary["self_tests"] = data["self_tests"][:5]
    return summary


def _print_json(reports: list[DiskReport], scan_error: str | None, console) -> None:
    text = json.dumps({"disks": [disk_json(r) for r in reports], "error": scan_error}, indent=2)
    if console is None:
        print(text)
    else:
        console.print_json(text) if hasattr(console, "print_json") else console.print(text)


def _print_table(reports: list[DiskReport], scan_error: str | None, console) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if scan_error:
        console.print(f"[bold red]SMART unavailable:[/] {scan_error}")
    if not reports:
        console.print("no disks found" + ("" if scan_error else " (smartctl --scan-open listed none)"))
        return
    table = Table(title="Disks (SMART)")
    for column in ("device", "model", "serial", "interface", "temp", "health", "reasons"):
        table.add_column(column, overflow="fold")
    for r in reports:
        temperature = "" if r.temperature_c is None else f"{r.temperature_c} °C"
        table.add_row(r.device, r.model or "", r.serial or "", r.interface or "", temperature,
                      f"[{STYLE[r.health]}]{r.health}[/]", "\n".join(r.reasons))
    console.print(table)
