"""The targets the journal has met, and the marker id that proves each is still the same one."""

from __future__ import annotations

import time

from journal.engine import Database
from journal.models import TargetRow


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
        with self.session() as session:
            session.merge(TargetRow(name=name, marker_id=marker_id, initialised_at=time.time()))
