"""A target proves it is the target: its marker must match what the journal recorded."""

from __future__ import annotations

import time
import uuid

from journal import Journal
from replication.target import MARKER_NAME, Marker, Target, TargetDown


def ensure_ready(target: Target, journal: Journal) -> Marker:
    """Return the target's marker, initialising a target the journal meets for the first time.

    Raises TargetDown when the marker is missing (an unmounted disk: its empty mount point) or belongs
    to another target; nothing may be written then.
    """
    expected = journal.target_marker(target.name)
    found = target.read_marker()
    if expected is None:
        if found is None:
            found = Marker(target=target.name, marker_id=uuid.uuid4().hex, created_at=time.time())
            target.write_marker(found)
        elif found.target != target.name:
            raise TargetDown(f"the root holds the marker of target {found.target!r}, not {target.name!r}")
        journal.record_target(target.name, found.marker_id)
        return found
    if found is None:
        raise TargetDown(f"marker {MARKER_NAME} is missing at the target root: is the disk mounted? "
                         "(nothing is written until it is back; `jaga init-target` re-initialises)")
    if found.marker_id != expected:
        raise TargetDown(f"marker {MARKER_NAME} belongs to a different target (id {found.marker_id}, "
                         f"journal expects {expected})")
    return found


def initialise(target: Target, journal: Journal, force: bool = False) -> Marker:
    """`jaga init-target`: write a marker (keeping the one there unless forced) and record it."""
    found = target.read_marker()
    if found is None or force:
        found = Marker(target=target.name, marker_id=uuid.uuid4().hex, created_at=time.time())
        target.write_marker(found)
    journal.record_target(target.name, found.marker_id)
    return found
