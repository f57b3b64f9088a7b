"""Re-read every replica (or a sample) and compare it with the journal's hash, or without a journal
with the target's manifest; report missing, corrupt and unexpected files. Exit 1 when any is found
or a target is down. --repair writes replicas, so it is refused (exit 1) while `jaga run` writes the
journal; verifying alone runs beside it.
"""

from __future__ import annotations

import json
import logging
import os

from jaga.commands import OK, PROBLEMS, add_command, refused
from journal.records import display
from replication.readiness import ensure_ready
from replication.target import TargetDown, TargetError

log = logging.getLogger("jaga.verify")


def register(subparsers, common) -> None:
    parser = add_command(subparsers, common, "verify", run, "re-read replicas and compare hashes", __doc__,
                         {OK: "every replica checked matches",
                          PROBLEMS: "missing, corrupt or unexpected files, or a target down; or --repair "
                                    "refused: `jaga run` writes this node's journal"})
    parser.add_argument("--target", metavar="NAME", help="only this target (default: all)")
    parser.add_argument("--sample", metavar="F", type=float, default=1.0,
                        help="check this fraction of the files, picked at random: 0 < F <= 1 (default 1, all)")
    parser.add_argument("--repair", action="store_true",
                        help="rewrite missing or corrupt replicas from the primary or another target")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(config, args) -> int:
    from jaga.writer import incarnation
    from journal import Journal, JournalBusy
    from replication.factory import build_target
    from replication.repair import repair
    journal = Journal(config.journal.url)
    if args.repair:  # a repair writes replicas: not while a daemon copies onto the same targets
        try:
            journal.lock_writer(incarnation(config, "verify"))
        except JournalBusy as exc:
            journal.close()
            return refused(exc, "stop it to repair, or run verify without --repair")
    journal.migrate()
    names = [args.target] if args.target else [t.name for t in config.targets]
    targets = {t.name: build_target(t, config.node_name) for t in config.targets}
    reports = []
    try:
        for name in names:
            config.target(name)
            reports.append(_verify_one(targets[name], journal, args.sample, _watch_roots(config)))
            if args.repair and not reports[-1].down:
                repair(reports[-1], targets[name], _watch_roots(config),
                       [t for n, t in targets.items() if n != name])
    finally:
        journal.close()
        for target in targets.values():
            target.close()
    _print(reports, args.json)
    return PROBLEMS if any(r.problems for r in reports) else OK


def _verify_one(target, journal, sample: float, watches):
    from replication.progress import Reporter
    from replication.verify import VerifyReport, expected_on, verify_target
    try:
        ensure_ready(target, journal, watches)
    except (TargetDown, TargetError) as exc:
        return VerifyReport(target.name, down=str(exc))
    expected = expected_on(target, journal)
    with Reporter(f"verify {target.name}", sum(e.size for e in expected), log) as reporter:
        return verify_target(target, expected, sample, reporter=reporter)


def _watch_roots(config) -> dict[str, bytes]:
    """Where repair finds the primary's copy of each watch's files."""
    return {w.label: os.fsencode(w.path) for w in config.watch}


def _print(reports, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    if as_json:
        print(json.dumps({"targets": {r.target: r.to_json() for r in reports}}, indent=2))
        return
    table = Table("target", "checked", "missing", "corrupt", "unexpected", "repaired")
    for r in reports:
        if r.down:
            table.add_row(r.target, f"DOWN: {r.down}", "-", "-", "-", "-")
        else:
            table.add_row(r.target, str(r.checked), str(len(r.missing)), str(len(r.corrupt)),
                          str(len(r.unexpected)), str(len(r.repaired)))
    Console().print(table)
    for r in reports:
        for label, items in (("missing", r.missing), ("corrupt", r.corrupt)):
            for item in items:
                print(f"{r.target}: {label}: {display(item.key)}")
        for key in r.unexpected:
            print(f"{r.target}: unexpected: {display(key)}")
