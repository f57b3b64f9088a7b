"""The scrub log: one row per scheduled re-read of a target."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select

from journal.engine import Database
from journal.models import ScrubRun
from journal.records import ScrubRecord


class ScrubLog(Database):
    def record_scrub(self, record: ScrubRecord) -> None:
        with self.session() as session:
            session.add(ScrubRun(node=self.node, **asdict(record)))

    def last_scrub(self, target: str) -> ScrubRecord | None:
        with self.reading() as session:
            row = session.execute(select(ScrubRun).where(ScrubRun.node == self.node, ScrubRun.target == target)
                                  .order_by(ScrubRun.finished_at.desc()).limit(1)).scalar_one_or_none()
            if row is None:
                return None
            return ScrubRecord(row.target, row.started_at, row.finished_at, row.checked, row.bytes_read,
                               row.missing, row.corrupt, row.unexpected, row.error)
