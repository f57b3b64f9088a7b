"""`jaga verify` and the scheduled scrub: re-read replicas and compare them with what must be there.

Returns a `VerifyReport`; `jaga.commands.verify` prints it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from journal import Journal
from journal.records import display
from replication.progress import Reporter
from replication.target import META_DIR, Target
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


def expected_on(target: Target, journal: Journal) -> list[Expected]:
    """What the target must hold: the journal's verified replicas, or (none recorded) its own manifest."""
    return expected_from_journal(journal, target.name) or expected_from_manifest(target)


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
