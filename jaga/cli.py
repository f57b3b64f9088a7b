"""`jaga`: exit 0 = fine, 1 = problems found, 2 = usage or config error (with a clear message)."""

from __future__ import annotations

import argparse
import json
import sys

from jaga import __version__
from jaga.config import Config, ConfigError, load_config
from jaga.logs import setup_logging
from journal import JournalError

OK, PROBLEMS, USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaga", description="Keep uploaded files safe and disks watched.")
    parser.add_argument("-c", "--config", default="config.yaml", help="config file (default ./config.yaml)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override logging.level")
    parser.add_argument("--log-format", choices=["text", "json"], help="override logging.format")
    parser.add_argument("--version", action="version", version=f"jaga {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="the daemon")
    sync = sub.add_parser("sync", help="one pass: reconcile, replicate and verify everything pending")
    sync.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    status = sub.add_parser("status", help="files, bytes and per-target state")
    status.add_argument("--json", action="store_true")
    sub.add_parser("check-config", help="validate the config and exit")
    init = sub.add_parser("init-target", help="write the marker that proves a target root is the target")
    init.add_argument("name")
    init.add_argument("--force", action="store_true", help="replace an existing marker (a new disk)")
    disks = sub.add_parser("disks", help="poll SMART now and show every disk's health")
    disks.add_argument("--json", action="store_true")
    _add_later_commands(sub)
    return parser


def _add_later_commands(sub) -> None:
    verify = sub.add_parser("verify", help="re-read replicas and compare hashes")
    verify.add_argument("--target")
    verify.add_argument("--sample", type=float, default=1.0, help="fraction of files to check (0-1]")
    verify.add_argument("--repair", action="store_true")
    verify.add_argument("--json", action="store_true")
    restore = sub.add_parser("restore", help="rebuild the upload tree from a replica")
    restore.add_argument("--from", dest="source", required=True, help="target name")
    restore.add_argument("--to", dest="dest", required=True, help="folder to restore into")
    restore.add_argument("--at", help="restore the versions current at this time (ISO 8601)")
    restore.add_argument("--path", dest="prefix", help="only paths under this prefix")
    report = sub.add_parser("report", help="intake: files and bytes per day, watch or folder")
    report.add_argument("--since")
    report.add_argument("--until")
    report.add_argument("--by", choices=["day", "watch", "folder"], default="day")
    fmt = report.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"jaga: config error: {exc}", file=sys.stderr)
        return USAGE
    setup_logging(args.log_level or config.logging.level, args.log_format or config.logging.format)
    handler = COMMANDS[args.command]
    try:
        return handler(config, args)
    except ConfigError as exc:
        print(f"jaga: {exc}", file=sys.stderr)
        return USAGE
    except JournalError as exc:
        print(f"jaga: {exc}", file=sys.stderr)
        return PROBLEMS
    except KeyboardInterrupt:
        return PROBLEMS


def cmd_run(config: Config, args) -> int:
    from jaga.daemon import Daemon
    Daemon(config).run_forever()
    return OK


def cmd_sync(config: Config, args) -> int:
    from jaga.daemon import Daemon
    daemon = Daemon(config)
    try:
        all_verified = daemon.sync_once(args.timeout)
        print_status(config, daemon.journal, as_json=False)
    finally:
        daemon.journal.close()
    return OK if all_verified else PROBLEMS


def cmd_status(config: Config, args) -> int:
    from journal import Journal
    journal = Journal(config.journal.url)
    try:
        journal.migrate()
        doc = print_status(config, journal, args.json)
    finally:
        journal.close()
    healthy = all(t["up"] and t["failed"] == 0 for t in doc["targets"].values())
    return OK if healthy else PROBLEMS


def print_status(config: Config, journal, as_json: bool) -> dict:
    from jaga.status import collect_status, render_status
    doc = collect_status(config, journal)
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        render_status(doc)
    return doc


def cmd_check_config(config: Config, args) -> int:
    print(f"{config.source}: ok ({len(config.watch)} watch(es), {len(config.targets)} target(s))")
    return OK


def cmd_init_target(config: Config, args) -> int:
    from journal import Journal
    from replication.factory import build_target
    from replication.readiness import initialise
    target = build_target(config.target(args.name))
    journal = Journal(config.journal.url)
    try:
        journal.migrate()
        marker = initialise(target, journal, force=args.force)
    finally:
        journal.close()
        target.close()
    print(f"target {args.name}: marker {marker.marker_id}")
    return OK


def cmd_disks(config: Config, args) -> int:
    from monitor.cli import disks_command
    return disks_command(config, args.json)


def cmd_verify(config: Config, args) -> int:
    from replication.verify import verify_command
    return verify_command(config, args)


def cmd_restore(config: Config, args) -> int:
    from replication.restore import restore_command
    return restore_command(config, args)


def cmd_report(config: Config, args) -> int:
    from ingest.report import report_command
    return report_command(config, args)


COMMANDS = {"run": cmd_run, "sync": cmd_sync, "status": cmd_status, "check-config": cmd_check_config,
            "init-target": cmd_init_target, "disks": cmd_disks, "verify": cmd_verify,
            "restore": cmd_restore, "report": cmd_report}

if __name__ == "__main__":
    sys.exit(main())
