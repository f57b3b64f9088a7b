"""SMART counters per poll, kept so that a rise between polls can alert and self-tests keep their rhythm."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from journal.engine import Database
from journal.models import SmartSample
from journal.records import SampleRecord


class SmartSamples(Database):
    def save_samples(self, device: str, polled_at: float, values: dict[str, str]) -> None:
        with self.session() as session:
            session.add_all(SmartSample(node=self.node, device=device, polled_at=polled_at, attribute=name,
                                        value=str(value)[:64]) for name, value in values.items())

    def latest_samples(self, device: str, before: float | None = None) -> dict[str, SampleRecord]:
        """The newest sample of each attribute of ``device`` (taken before ``before``, if given)."""
        newest = select(SmartSample.attribute, func.max(SmartSample.polled_at).label("at")) \
            .where(SmartSample.node == self.node, SmartSample.device == device)
        if before is not None:
            newest = newest.where(SmartSample.polled_at < before)
        newest = newest.group_by(SmartSample.attribute).subquery()
        query = select(SmartSample.attribute, SmartSample.value, SmartSample.polled_at).join(
            newest, (SmartSample.attribute == newest.c.attribute) & (SmartSample.polled_at == newest.c.at)) \
            .where(SmartSample.node == self.node, SmartSample.device == device)
        with self.reading() as session:
            return {row.attribute: SampleRecord(row.value, row.polled_at) for row in session.execute(query)}

    def prune_samples(self, older_than: float) -> int:
        with self.session() as session:
            return session.execute(delete(SmartSample).where(SmartSample.node == self.node,
                                                                     SmartSample.polled_at < older_than)).rowcount or 0
