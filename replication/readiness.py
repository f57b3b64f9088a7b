"""A target proves it is the target: its marker must match what the journal recorded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection

from journal import Journal
from replication.rebuild import adopt
from replication.target import Marker, Target, TargetDown


def ensure_ready(target: Target, journal: Journal, watches: Collection[str] | None = None) -> Marker:
    """Return the target's marker, initialising a target the journal meets for the first time, and bind
    the target to the journal's marker id (every later write must prove it). A target met for the
    first time that already has a marker brings its history (manifest versions under ``watches``).

    Raises TargetDown when the marker is missing (an unmounted disk: its empty mount point) or belongs
    to another target; nothing may be written then.
    """
    expected = journal.target_marker(target.name)
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


def initialise(target: Target, journal: Journal, force: bool = False,
               watches: Collection[str] | None = None) -> Marker:
    """`jaga init-target`: write a marker (keeping the one there unless forced) and record it; a marker
    kept is a target that may hold replicas already, so its history comes too."""
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
