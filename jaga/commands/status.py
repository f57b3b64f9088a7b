"""Files and bytes journaled; per target verified, pending, failed, up and the oldest pending age; the
running daemon's disks and firing alerts. Exit 1 when a target is down or has failed copies.
"""

from __future__ import annotations

import json

from jaga.commands import OK, PROBLEMS, add_command


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "status", run, "files, bytes and per-target state", __doc__,
                         {OK: "every target is up and no copy failed", PROBLEMS: "a target is down or has failed copies"})
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--fleet", action="store_true", help="every node sharing the journal: its state, "
                        "heartbeat age and backlog per target (exit 1 when one is silent or has failed copies)")


def run(config, args) -> int:
    from jaga.writer import open_journal
    journal = open_journal(config)
    try:
        journal.migrate()
        if args.fleet:
            return show_fleet(journal, args.json)
        doc = show_status(config, journal, args.json)
    finally:
        journal.close()
    healthy = all(t["up"] and t["failed"] == 0 for t in doc["targets"].values())
    return OK if healthy else PROBLEMS


def show_fleet(journal, as_json: bool) -> int:
    from jaga.status import collect_fleet
    nodes = collect_fleet(journal)
    if as_json:
        print(json.dumps({"nodes": nodes}, indent=2))
    else:
        render_fleet(nodes)
    healthy = all(n["state"] != "silent" and not any(b["failed"] for b in n["backlog"].values()) for n in nodes)
    return OK if healthy else PROBLEMS


def render_fleet(nodes: list[dict], console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table("node", "host", "state", "heartbeat", "version", "backlog (pending/failed per target)")
    for n in nodes:
        backlog = ", ".join(f"{t} {b['pending']}/{b['failed']}" for t, b in n["backlog"].items()) or "none"
        table.add_row(n["name"], n["host"], n["state"], f"{n['heartbeat_age_seconds']:.0f}s ago", n["version"],
                      backlog)
    (console or Console()).print(table)


def show_status(config, journal, as_json: bool) -> dict:
    from jaga.status import collect_status
    doc = collect_status(config, journal)
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        render_status(doc)
    return doc


def render_status(doc: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    console.print(f"files: {doc['files']}   bytes: {doc['bytes']:,}")
    if doc["writer"]:
        console.print(f"writer: {describe_writer(doc['writer'])}")
    table = Table("target", "type", "up", "verified", "pending", "failed", "oldest pending")
    for name, t in doc["targets"].items():
        oldest = "-" if t["oldest_pending_seconds"] is None else f"{t['oldest_pending_seconds']:.0f}s"
        table.add_row(name, t["type"], "yes" if t["up"] else f"NO: {t['down_reason']}", str(t["verified"]),
                      str(t["pending"]), str(t["failed"]), oldest)
    console.print(table)
    if doc["skipped"]:
        console.print("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(doc["skipped"].items())))
    if doc["disks"]:
        disks = Table("disk", "model", "health", "reasons")
        for d in doc["disks"]:
            disks.add_row(d["device"], d["model"] or "", d["health"], "; ".join(d["reasons"] or []))
        console.print(disks)
    elif doc.get("live_note"):
        console.print(f"disks: {doc['live_note']}")
    elif doc["daemon"] != "running":
        console.print("disks: the daemon is not running (`jaga disks` polls them now)")
    for alert in doc["alerts"]:
        console.print(f"[bold red]ALERT[/] {alert['severity']} {alert['alertname']}: {alert['subject']}: "
                      f"{alert['summary']}")


def describe_writer(writer: dict) -> str:
    who = f"jaga {writer['command']}, pid {writer['pid']} on {writer['host']} (node {writer['name']})"
    if writer["state"] == "stopped":
        return f"none running; last {who}, stopped cleanly"
    if writer["state"] == "silent":
        return f"{who}: no heartbeat for {writer['heartbeat_age_seconds']:.0f}s (a one-shot command, or crashed)"
    return f"{who}, heartbeat {writer['heartbeat_age_seconds']:.0f}s ago"
