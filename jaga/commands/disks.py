"""Poll SMART now (without the daemon's journal): per disk model, serial, interface, temperature,
health ok/warning/failing/unknown and the reasons; then, for every watched folder, target root and
the journal's folder, whether SMART watches the disk under it and why not (a virtual disk, a RAID
controller, missing permission, smartctl missing, a folder on no local disk).
"""

from __future__ import annotations

import json

from jaga.commands import OK, PROBLEMS, add_command

STYLE = {"ok": "green", "warning": "yellow", "failing": "bold red", "unknown": "magenta"}
JSON_FIELDS = ("device", "path", "model", "serial", "firmware", "interface", "health", "reasons",
               "temperature_c", "exit_status", "exit_status_meanings", "source")


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "disks", run,
                         "poll SMART now and show every disk's health", __doc__,
                         {OK: "every disk is ok and SMART covers every folder jaga depends on",
                          PROBLEMS: "a disk is warning, failing or unknown, SMART is unavailable, or a folder has no "
                                    "SMART coverage"})
    parser.add_argument("--json", action="store_true",
                        help="print JSON ({disks: [...], error, smart_coverage: [...]}) instead of tables")


def run(config, args) -> int:
    return show_disks(config, args.json)


def show_disks(config, as_json: bool, console=None) -> int:
    """Exit 0 when every disk is ok and covers every folder, 1 otherwise (see the epilog)."""
    from monitor.coverage import smart_coverage
    from monitor.filesystems import stat_path
    from monitor.service import watched_paths
    from monitor.smart import poll_once
    result = poll_once(config.monitor.smart)
    stats = [stat_path(label, path) for label, path in watched_paths(config, [])]
    coverage = smart_coverage(stats, result.reports, result.scan_error, config.monitor.smart.enabled)
    if as_json:
        _print_json(result.reports, result.scan_error, coverage, console)
    else:
        _print_table(result.reports, result.scan_error, console)
        _print_coverage(coverage, console)
    return OK if result.all_ok and all(item.covered for item in coverage) else PROBLEMS


def disk_json(report) -> dict:
    data = report.to_json()
    summary = {name: data[name] for name in JSON_FIELDS}
    summary["nvme"] = data["nvme"]
    summary["scsi_grown_defects"] = data["scsi_grown_defects"]
    summary["self_tests"] = data["self_tests"][:5]
    return summary


def _print_json(reports, scan_error: str | None, coverage, console) -> None:
    text = json.dumps({"disks": [disk_json(r) for r in reports], "error": scan_error,
                       "smart_coverage": [item.to_json() for item in coverage]}, indent=2)
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


def _print_coverage(coverage, console) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="SMART coverage of the folders jaga depends on")
    for column in ("folder", "for", "disk", "SMART", "why"):
        table.add_column(column, overflow="fold")
    for item in coverage:
        table.add_row(item.path, item.label, item.disk or "-", "[green]yes[/]" if item.covered else "[bold red]NO[/]",
                      "" if item.covered else item.detail)
    console.print(table)
