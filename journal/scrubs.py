"""The scrub log: one row per scheduled re-read of a target."""

from __future__ import annotations

from sqlalchemy import select

from journal.engine import Database
from journal.models import ScrubRun


class ScrubLog(Database):
    def record_scrub(self, run: ScrubRun) -> None:
        with self.session() as session:
            session.add(run)

    def last_scrub(self, target: str) -> ScrubRun | None:
        with self.reading() as session:
            return session.execute(select(ScrubRun).where(ScrubRun.target == target)
                                   .order_by(ScrubRun.finished_at.desc()).limit(1)).scalar_one_or_none()
