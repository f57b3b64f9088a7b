"""A target proves it is the target: its marker must match what the journal recorded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING

from replication.rebuild import adopt
from replication.target import Marker, Target, TargetDown, require_marker

if TYPE_CHECKING:  # an annotation only: importing it would load SQLAlchemy for `jaga restore`
    from journal import Journal


def ensure_ready(target: Target, journal: Journal, watches: Collection[str] | None = None) -> Marker:
    """Return the target's marker, initialising a target the journal meets for the first time, and bind
    the target to the journal's marker id (every later write must prove it). A target met for the
    first time that already has a marker brings its history (manifest versions under ``watches``).

    Raises TargetDown when the marker is missing (an unmounted disk: its empty mount point) or belongs
    to another target; nothing may be written then.
    """
    expected = journal.target_marker(target.name)
    if target.shared:
        return _ready_shared(target, journal, expected, watches)
    if expected is None:
        found = target.read_marker()
        if found is None:
            found = Marker(target=target.name, marker_id=uuid.uuid4().hex, created_at=time.time())
            target.write_marker(found)
            journal.record_target(target.name, found.marker_id)
        elif found.target != target.name:
            raise TargetDown(f"the root holds the marker of target {found.target!r}, not {target.name!r}")
        else:
            adopt(target, journal, found, watches)
        expected = found.marker_id
    target.expect_marker(expected)
    return target.prove_identity()


def _ready_shared(target: Target, journal: Journal, expected: str | None,
                  watches: Collection[str] | None) -> Marker:
    """A shared target's marker id is decided by the journal, not by whichever node writes first: the id
    is recorded (or the one recorded first read back) before the marker is written, and only if absent.
    The same is done when the journal holds an id but the bucket no marker and never a verified replica
    (the deciding node stopped in between): a first start finished, not an unmounted disk."""
    found = target.read_marker()
    if expected is not None and (found is not None or journal.target_holds_replicas(target.name)):
        target.expect_marker(expected)
        return require_marker(found, expected)
    if found is not None and found.target != target.name:
        raise TargetDown(f"the root holds the marker of target {found.target!r}, not {target.name!r}")
    if found is not None:   # a bucket filled before this journal met it brings its history
        adopt(target, journal, found, watches)
    else:
        marker_id, decided_at = journal.decide_target(target.name, uuid.uuid4().hex)
        target.write_marker(Marker(target=target.name, marker_id=marker_id, created_at=decided_at))
    target.expect_marker(journal.target_marker(target.name))
    return target.prove_identity()


def initialise(target: Target, journal: Journal, force: bool = False,
               watches: Collection[str] | None = None) -> Marker:
    """`jaga init-target`: write a marker (keeping the one there unless forced) and record it; a marker
    kept is a target that may hold replicas already, so its history comes too. A shared target's marker is
    the journal's to decide (see ensure_ready) unless forced."""
    if target.shared and not force:
        return ensure_ready(target, journal, watches)
    found = target.read_marker()
    if found is None or force:
        found = Marker(target=target.name, marker_id=uuid.uuid4().hex, created_at=time.time())
        target.write_marker(found)
        journal.record_target(target.name, found.marker_id)
    elif journal.target_marker(target.name) in (None, found.marker_id):
        adopt(target, journal, found, watches)
    else:
        journal.record_target(target.name, found.marker_id)
    target.expect_marker(found.marker_id)
    return found
