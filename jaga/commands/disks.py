"""Poll SMART now (without the daemon's journal): per disk model, serial, interface, temperature,
health ok/warning/failing/unknown and the reasons. Exit 1 unless every disk is ok.
"""

from __future__ import annotations

import json

from jaga.commands import OK, PROBLEMS, add_command

STYLE = {"ok": "green", "warning": "yellow", "failing": "bold red", "unknown": "magenta"}
JSON_FIELDS = ("device", "path", "model", "serial", "firmware", "interface", "health", "reasons",
               "temperature_c", "exit_status", "exit_status_meanings", "source")


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "disks", run,
                         "poll SMART now and show every disk's health", __doc__)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(config, args) -> int:
    return show_disks(config, args.json)


def show_disks(config, as_json: bool, console=None) -> int:
    """Exit 0 when every disk is ok, 1 when any is warning, failing or unknown (or SMART is unavailable)."""
    from monitor.smart import poll_once
    result = poll_once(config.monitor.smart)
    if as_json:
        _print_json(result.reports, result.scan_error, console)
    else:
        _print_table(result.reports, result.scan_error, console)
    return OK if result.all_ok else PROBLEMS


def disk_json(report) -> dict:
    data = report.to_json()
    summary = {name: data[name] for name in JSON_FIELDS}
    summary["nvme"] = data["nvme"]
    summary["scsi_grown_defects"] = data["scsi_grown_defects"]
    summary["self_tests"] = data["self_tests"][:5]
    return summary


def _print_json(reports, scan_error: str | None, console) -> None:
    text = json.dumps({"disks": [disk_json(r) for r in reports], "error": scan_error}, indent=2)
    if console is None:
        print(text)
    else:
        console.print_json(text) if hasattr(console, "print_json") else console.print(text)


def _print_table(reports, scan_error: str | None, console) -> None:
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
