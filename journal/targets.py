"""The targets the journal has met, and the marker id that proves each is still the same one.

A target belongs to a node (its local disk, its own bucket prefix: two servers with identical configs
each have their own "local"), unless it is shared by the fleet: then its row is the fleet's
(``SHARED_TARGET``) and every node proves the same marker id.

A shared target (several nodes on one bucket) gets its marker id from here: the first node to insert
the target's row decides it, every other node reads that row back (INSERT … ON CONFLICT DO NOTHING),
so nodes meeting a fresh bucket at the same instant all write and expect the same marker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from journal.engine import Database
from journal.models import SHARED_TARGET, Replica, TargetRow
from journal.queue import owned_by
from journal.records import ReplicaState


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
        """Record (or replace: `jaga init-target --force`) the target's marker id."""
        with self.session() as session:
            session.merge(TargetRow(node=self.target_owner(name), name=name, marker_id=marker_id,
                                    initialised_at=time.time()))

    def decide_target(self, name: str, proposed_id: str) -> tuple[str, float]:
        """The target's marker id and when it was decided: ``proposed_id`` if the journal held none, else
        the one recorded first, by whichever node came first."""
        owner = self.target_owner(name)
        with self.session() as session:
            insert_target(session, owner, name, proposed_id)
            row = session.execute(select(TargetRow.marker_id, TargetRow.initialised_at)
                                  .where(TargetRow.node == owner, TargetRow.name == name)).one()
            return row.marker_id, row.initialised_at

    def target_holds_replicas(self, name: str) -> bool:
        """Whether any replica was ever verified on the target (so a missing marker is not a first start):
        on a shared target any node's, on a node-local one this node's (another's "local" is another disk)."""
        verified = select(Replica.id).where(Replica.target == name, Replica.state == ReplicaState.VERIFIED)
        if name not in self.shared_targets:
            verified = verified.where(owned_by(self.node))
        with self.reading() as session:
            return session.execute(select(verified.exists())).scalar()


def insert_target(session: Session, owner: str, name: str, marker_id: str) -> None:
    """Insert the target's row unless one exists: never an error when another node inserted it first."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(TargetRow).values(node=owner, name=name, marker_id=marker_id,
                                                     initialised_at=time.time())
                    .on_conflict_do_nothing(index_elements=["node", "name"]))
