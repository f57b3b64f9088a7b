"""`jaga verify` and the scheduled scrub: re-read replicas and compare them with what must be there."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from journal import Journal
from journal.records import display
from replication.factory import build_target
from replication.progress import Reporter
from replication.readiness import ensure_ready
from replication.target import META_DIR, Target, TargetDown, TargetError
from replication.throttle import Throttle

log = logging.getLogger("jaga.verify")


@dataclass(frozen=True)
class Expected:
    key: bytes
    watch: str
    path: bytes
    version: int
    sha256: str
    size: int
    mtime_ns: int
    deleted: bool = False  # gone from the primary: its replica is kept, possibly moved aside


@dataclass
class VerifyReport:
    target: str
    checked: int = 0
    bytes_read: int = 0
    missing: list[Expected] = field(default_factory=list)
    corrupt: list[Expected] = field(default_factory=list)
    unexpected: list[bytes] = field(default_factory=list)
    repaired: list[bytes] = field(default_factory=list)
    down: str | None = None

    @property
    def problems(self) -> int:
        return len(self.missing) + len(self.corrupt) + len(self.unexpected) + (1 if self.down else 0)

    def to_json(self) -> dict:
        return {"checked": self.checked, "bytes_read": self.bytes_read, "down": self.down,
                "missing": [display(e.key) for e in self.missing],
                "corrupt": [display(e.key) for e in self.corrupt],
                "unexpected": [display(k) for k in self.unexpected],
                "repaired": [display(k) for k in self.repaired]}


def expected_from_journal(journal: Journal, target: str) -> list[Expected]:
    return [Expected(watch.encode() + b"/" + path, watch, path, number, sha, size, mtime, deleted)
            for watch, path, number, sha, size, mtime, deleted in journal.verified_replicas(target)]


def expected_from_manifest(target: Target) -> list[Expected]:
    """Without a journal the target's own manifest says what it must hold (newest version per key)."""
    newest: dict[bytes, object] = {}
    for entry in target.read_manifest():
        current = newest.get(entry.key)
        if current is None or entry.version >= current.version:
            newest[entry.key] = entry
    result = []
    for key, entry in newest.items():
        watch, _, path = key.partition(b"/")
        result.append(Expected(key, watch.decode(errors="replace"), path, entry.version, entry.sha256,
                               entry.size, entry.mtime_ns))
    return result


def verify_target(target: Target, expected: list[Expected], sample: float = 1.0,
                  rate: float | None = None, reporter: Reporter | None = None) -> VerifyReport:
    report = VerifyReport(target.name)
    limit = Throttle(int(rate) if rate else None)  # a scrub must never starve the uploads
    chosen = expected if sample >= 1.0 else [e for e in expected if random.random() < sample]
    for item in chosen:
        stored = target.checksum(item.key)
        report.checked += 1
        if stored is None:
            if not item.deleted:  # a deleted file's replica may have been moved aside for a new upload
                report.missing.append(item)
        else:
            report.bytes_read += item.size
            if stored != item.sha256:
                report.corrupt.append(item)
        limit.take(item.size)
        if reporter is not None:
            reporter.advance(item.size)
    if sample >= 1.0:
        known = {e.key for e in expected}
        report.unexpected = sorted(k for k in target.list_keys() if k not in known and not k.startswith(META_DIR))
    for item in report.missing + report.corrupt:
        log.error("target %s: %s %s (version %d)", target.name, display(item.key),
                  "is missing" if item in report.missing else "does not match its hash", item.version)
    return report


def verify_command(config, args) -> int:
    from replication.repair import repair, roots_of
    journal = Journal(config.journal.url)
    journal.migrate()
    names = [args.target] if args.target else [t.name for t in config.targets]
    targets = {t.name: build_target(t) for t in config.targets}
    reports = []
    try:
        for name in names:
            config.target(name)
            reports.append(_verify_one(targets[name], journal, args.sample, config.target(name)))
            if args.repair and not reports[-1].down:
                repair(reports[-1], targets[name], roots_of(config),
                       [t for n, t in targets.items() if n != name])
    finally:
        journal.close()
        for target in targets.values():
            target.close()
    _print(reports, args.json)
    return 1 if any(r.problems for r in reports) else 0


def _verify_one(target: Target, journal: Journal, sample: float, target_config) -> VerifyReport:
    try:
        ensure_ready(target, journal)
    except (TargetDown, TargetError) as exc:
        return VerifyReport(target.name, down=str(exc))
    expected = expected_from_journal(journal, target.name) or expected_from_manifest(target)
    with Reporter(f"verify {target.name}", sum(e.size for e in expected), log) as reporter:
        return verify_target(target, expected, sample, reporter=reporter)


def _print(reports: list[VerifyReport], as_json: bool) -> None:
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
