"""The journal learns what a target already holds from the target's own manifest: when the journal was
lost with the primary disk (at start, or `jaga rebuild-journal`), or when it first meets a target
that was filled before (e.g. under a journal that is gone). Numbering then continues from the
target's, so no version in its versions area is asked to make room for another of the same number.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

from journal.records import AdoptReport, KnownVersion
from replication.target import Marker, Target, TargetDown, UnsafeKey, check_key

if TYPE_CHECKING:  # an annotation only: importing it would load SQLAlchemy for `jaga restore`
    from journal import Journal

log = logging.getLogger("jaga.rebuild")


def adopt(target: Target, journal: Journal, marker: Marker, watches: Collection[str] | None = None
          ) -> AdoptReport:
    """Record ``target`` with ``marker`` and take in every manifest version under ``watches`` (None: all)."""
    expected = journal.target_marker(target.name)
    if expected is not None and expected != marker.marker_id:
        raise TargetDown(f"target {target.name} holds marker {marker.marker_id}, the journal knows {expected}: "
                         "a different disk? (`jaga init-target --force` if it is the new one)")
    skipped: list[int] = [0]
    report = journal.adopt_target(target.name, marker.marker_id, _known(target, watches, skipped))
    report.skipped = skipped[0]
    if report.versions or report.replicas or report.conflicts:
        log.info("target %s: took its history into the journal: %d file(s), %d version(s), %d verified "
                 "replica(s), %d renumbered, %d line(s) skipped, %d conflict(s)", target.name, report.files,
                 report.versions, report.replicas, report.renumbered, report.skipped, len(report.conflicts))
    for conflict in report.conflicts:
        log.warning("target %s: %s", target.name, conflict)
    return report


def _known(target: Target, watches: Collection[str] | None, skipped: list[int]) -> Iterator[KnownVersion]:
    for entry in target.read_manifest():
        try:
            watch, _, path = check_key(entry.key).partition(b"/")
            label = watch.decode("utf-8")
        except (UnsafeKey, UnicodeDecodeError):
            label, path = None, b""
        if label is None or not path or (watches is not None and label not in watches):
            skipped[0] += 1
            continue
        yield KnownVersion(label, path, entry.version, entry.size, entry.mtime_ns, entry.sha256,
                           entry.replicated_at)
