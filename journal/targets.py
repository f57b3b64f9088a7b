"""The targets the journal has met, and the marker id that proves each is still the same one.

A shared target (several nodes on one bucket) gets its marker id from here: the first node to insert
the target's row decides it, every other node reads that row back (INSERT … ON CONFLICT DO NOTHING),
so nodes meeting a fresh bucket at the same instant all write and expect the same marker.
"""

from __future__ import annotations

import time

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from journal.engine import Database
from journal.models import Replica, TargetRow
from journal.records import ReplicaState


class TargetRegistry(Database):
    def target_marker(self, name: str) -> str | None:
        with self.reading() as session:
            row = session.get(TargetRow, name)
            return row.marker_id if row else None

    def target_met_at(self, name: str) -> float | None:
        """When this journal first recorded the target (compare with the marker's own creation time)."""
        with self.reading() as session:
            row = session.get(TargetRow, name)
            return row.initialised_at if row else None

    def record_target(self, name: str, marker_id: str) -> None:
        """Record (or replace: `jaga init-target --force`) the target's marker id."""
        with self.session() as session:
            session.merge(TargetRow(name=name, marker_id=marker_id, initialised_at=time.time()))

    def decide_target(self, name: str, proposed_id: str) -> tuple[str, float]:
        """The target's marker id and when it was decided: ``proposed_id`` if the journal held none, else
        the one recorded first, by whichever node came first."""
        with self.session() as session:
            insert_target(session, name, proposed_id)
            row = session.execute(select(TargetRow.marker_id, TargetRow.initialised_at)
                                  .where(TargetRow.name == name)).one()
            return row.marker_id, row.initialised_at

    def target_holds_replicas(self, name: str) -> bool:
        """Whether any replica was ever verified on the target (so a missing marker is not a first start)."""
        with self.reading() as session:
            return session.execute(select(exists().where(
                Replica.target == name, Replica.state == ReplicaState.VERIFIED))).scalar()


def insert_target(session: Session, name: str, marker_id: str) -> None:
    """Insert the target's row unless one exists: never an error when another node inserted it first."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(TargetRow).values(name=name, marker_id=marker_id, initialised_at=time.time())
                    .on_conflict_do_nothing(index_elements=["name"]))
