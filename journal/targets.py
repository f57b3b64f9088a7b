"""The targets the journal has met, and the marker id that proves each is still the same one.

A target belongs to a node (its local disk, its own bucket prefix: two servers with identical configs
each have their own "local"), unless it is shared by the fleet: then its row is the fleet's
(``SHARED_TARGET``) and every node proves the same marker id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from journal.engine import Database
from journal.models import SHARED_TARGET, TargetRow


class TargetRegistry(Database):
    shared_targets: frozenset[str] = frozenset()

    def share_targets(self, names: Iterable[str]) -> None:
        """Name the targets every node of the fleet writes (config: ``shared: true``)."""
        self.shared_targets = frozenset(names)

    def target_owner(self, name: str) -> str:
        """The ``targets.node`` of target ``name``: this node's, or the fleet's for a shared target."""
        return SHARED_TARGET if name in self.shared_targets else self.node

    def target_marker(self, name: str) -> str | None:
        with self.reading() as session:
            row = session.get(TargetRow, (self.target_owner(name), name))
            return row.marker_id if row else None

    def target_met_at(self, name: str) -> float | None:
        """When this journal first recorded the target (compare with the marker's own creation time)."""
        with self.reading() as session:
            row = session.get(TargetRow, (self.target_owner(name), name))
            return row.initialised_at if row else None

    def record_target(self, name: str, marker_id: str) -> None:
        with self.session() as session:
            session.merge(TargetRow(node=self.target_owner(name), name=name, marker_id=marker_id,
                                    initialised_at=time.time()))
